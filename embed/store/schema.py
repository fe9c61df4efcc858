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
    features/<embedder>/check/{audio,text} (N,) uint64   each row's checksum (clapmos.embed.store.seals)
    every table column above: attrs ``checksums``, one digest per chunk (:func:`chunk_digests`)
    (an audio-only embedder, attrs ``text_dim: 0``, has no ``text`` array)
    features/<embedder>/frames/...      frame tokens, optional (version 2; see clapmos.embed.store.frame_store)

The README ("The store") describes the same fields for readers of other tools.

>>> identity_of({"embedder": "clap", "created": "today"})
{'embedder': 'clap'}
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import seals

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
    """A table column (items, labels, ratings...), with the digest of each chunk in its attribute ``checksums``."""
    if name in group:
        del group[name]
    chunk = max(1, min(chunk, len(values)))
    array = group.create_array(name, shape=values.shape, dtype=values.dtype, chunks=(chunk,))
    if len(values):
        array[:] = values
    array.attrs["checksums"] = chunk_digests(values, chunk)  # after the data: an array without them is unchecked


def write_str(group: zarr.Group, name: str, values: np.ndarray, chunk: int) -> None:
    """A column of strings, like :func:`write_array`."""
    parent, _, leaf = name.rpartition("/")
    target = group.require_group(parent) if parent else group
    if leaf in target:
        del target[leaf]
    chunk = max(1, min(chunk, len(values)))
    array = target.create_array(leaf, shape=values.shape, dtype=str, chunks=(chunk,))
    if len(values):
        array[:] = np.asarray(values, dtype=object)
    array.attrs["checksums"] = chunk_digests(values, chunk)


def chunk_digests(values: np.ndarray, chunk: int) -> list[str]:
    """A hex digest of each chunk of a table column (strings by their text, numbers by their bytes).

    >>> chunk_digests(np.array(["a", "b", "c"], dtype=object), 2) == chunk_digests(np.array(["a", "b", "c"]), 2)
    True
    """
    values = np.asarray(values)
    text = values.dtype.kind in "OUT"
    out = []
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        data = "\x1f".join(map(str, part)).encode() if text else np.ascontiguousarray(part).tobytes()
        out.append(hashlib.blake2b(data, digest_size=8).hexdigest())
    return out


def read_column(array: zarr.Array, path: object) -> np.ndarray:
    """A whole table column, checked against its ``checksums`` (none: written without them, read as is).

    A chunk that does not decode or whose digest differs raises
    :class:`~clapmos.embed.errors.ClapmosError` naming the array, its damaged rows and what to do.
    """
    recorded = array.attrs.get("checksums")
    chunk = int(array.chunks[0])
    try:
        values = array[:]
    except seals.CHUNK_ERRORS:  # a chunk that does not decode
        values = None
    if values is not None and (recorded is None or chunk_digests(values, chunk) == list(recorded)):
        return values
    damaged = []
    for number, start in enumerate(range(0, int(array.shape[0]), chunk)):
        try:
            part = array[start : start + chunk]
        except seals.CHUNK_ERRORS:
            part = None
        if part is None or recorded is None or chunk_digests(part, chunk) != [recorded[number]]:
            damaged.append(f"{start}-{min(start + chunk, int(array.shape[0])) - 1}")
    name = str(array.path)
    advice = (
        "It lists the clips, so the store can no longer be read: embed the corpus into a new store (another --out)."
        if name.startswith("items/") else
        "Run the same `clapmos embed` command again: it writes the labels, ratings and votes again from the corpus."
    )
    raise ClapmosError(
        f"{path}: {name} is damaged (a chunk was deleted, truncated or changed after clapmos wrote it; rows "
        f"{', '.join(damaged)}), so its values are not used. {advice}"
    )

