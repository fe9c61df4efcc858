"""The store's schema, written once: its layout, version, chunking, and what makes features interchangeable.

::

    attrs: clapmos_store_version, corpus, targets, created
    items/{id,path,text,system,split}   (N,) str
    items/{start_s,end_s}               (N,) float64, optional: a segment of the file (NaN: its start/end)
    labels/<target>                     (N,) float32, NaN = unknown
    ratings/item (R,) int64, ratings/listener (R,) str, ratings/<target> (R,) float32
    comparisons/{a,b} (C,) int64        optional: pairwise votes, item rows of the two clips
    comparisons/{prompt,vote,voter,dimension} (C,) str, comparisons/confidence (C,) float32 (NaN: not given)
    features/<embedder>/audio (N, Da) float32, .../text (N, Dt) float32, .../done (N,) bool
    (an audio-only embedder, attrs ``text_dim: 0``, has no ``text`` array)
    features/<embedder>/frames/...      frame tokens, optional (version 2; see clapmos.embed.store.frame_store)

The README ("The store") describes the same fields for readers of other tools.

>>> identity_of({"embedder": "clap", "created": "today"})
{'embedder': 'clap'}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import zarr

STORE_VERSION = 2  # 2: optional frame tokens (clapmos.embed.store.frame_store); version-1 readers still read everything else
ITEM_CHUNK = 4096
RATING_CHUNK = 65536
COMPARISON_STR_COLUMNS = ("prompt", "vote", "voter", "dimension")  # comparisons/<column>, str
FEATURE_CHUNK = 64  # rows per chunk of features/<embedder>/*; embed writes whole chunks
CHECKED_COLUMNS = ["id", "text", "system", "split"]  # must match to add features to an existing store
SEGMENT_COLUMNS = ("start_s", "end_s")  # optional items/<column>: each item is that part of its file


#: Provenance that makes two sets of features interchangeable: a change in any of them makes
#: stored features stale (``embed`` refuses to mix them) and a fitted model refuses them
#: (``clapmos.heads.runs.run``). So are every ``*_sha256`` attribute (checkpoints, weights, plugin files)
#: and the keys an embedder lists in its provenance under ``identity_keys`` (e.g. a layer).
IDENTITY_ATTRS = (
    "embedder", "audio_dim", "text_dim", "sample_rate", "window_s", "hop_s", "pooling", "checkpoint_sha256", "precision", "layer",
)


def is_clapmos_store(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a store clapmos created (its group has ``clapmos_store_version``)."""
    metadata = Path(path) / "zarr.json"
    try:
        return "clapmos_store_version" in json.loads(metadata.read_text()).get("attributes", {})
    except (OSError, ValueError, AttributeError):
        return False


def identity_of(attrs: dict[str, Any]) -> dict[str, Any]:
    """The part of an embedder's provenance that decides whether features are interchangeable.

    >>> identity_of({"embedder": "clap", "created": "today", "checkpoint_sha256": "ab", "variant": 3, "identity_keys": ["variant"]})
    {'embedder': 'clap', 'checkpoint_sha256': 'ab', 'variant': 3.0}
    """
    extra = set(attrs.get("identity_keys") or ())
    return {
        key: _normalise(value)
        for key, value in attrs.items()
        if key in IDENTITY_ATTRS or key.endswith("_sha256") or key in extra
    }


def _normalise(value: Any) -> Any:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def write_array(group: zarr.Group, name: str, values: np.ndarray, chunk: int) -> None:
    if name in group:
        del group[name]
    array = group.create_array(name, shape=values.shape, dtype=values.dtype, chunks=(max(1, min(chunk, len(values))),))
    if len(values):
        array[:] = values


def write_str(group: zarr.Group, name: str, values: np.ndarray, chunk: int) -> None:
    parent, _, leaf = name.rpartition("/")
    target = group.require_group(parent) if parent else group
    if leaf in target:
        del target[leaf]
    array = target.create_array(leaf, shape=values.shape, dtype=str, chunks=(max(1, min(chunk, len(values))),))
    if len(values):
        array[:] = np.asarray(values, dtype=object)

