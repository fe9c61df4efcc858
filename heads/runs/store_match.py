"""Whether two stores hold interchangeable features: what a run may train on together (several corpora, pretraining pairs).

A second store joins a run's training data only when each embedder the run reads was made the
same way in both stores (:func:`~clapmos.embed.store.identity_of`: checkpoint, sample rate, windows,
pooling...) and gives the same blocks (audio width, text width or none). The refusal names both
stores and what differs. :func:`shared_clips` finds the clips two stores have in common (the same
audio embedding, bit for bit, of a deterministic embedder).

>>> class Store:  # the three things read here, as a FeatureStore has them
...     def __init__(self, path, text): self.path, self.embedders, self._text = path, ["clap"], text
...     def layout(self, names): return tuple((n, 512, self._text) for n in names)
...     def embedder_attrs(self, name): return {"embedder": "clap"}
>>> check_same_features(Store("a.zarr", 512), Store("b.zarr", 0), ["clap"], "--store", "--store")
Traceback (most recent call last):
clapmos.embed.errors.ClapmosError: --store b.zarr: its 'clap' features are audio 512 + no text, those of --store a.zarr audio 512 + text 512; a run reads the same blocks from every store. Embed both with the same embedder settings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import identity_of


def _blocks(audio: int, text: int) -> str:
    return f"audio {audio} + {f'text {text}' if text else 'no text'}"


def check_same_features(reference, other, embedders: Sequence[str], reference_option: str, other_option: str) -> None:
    """Refuse ``other`` unless each of ``embedders`` is in it, made like in ``reference`` and with the same blocks (both stores named)."""
    for name in embedders:
        if name not in other.embedders:
            raise ClapmosError(f"{other_option} {other.path} has no {name!r} features, which the run reads from {reference_option} "
                               f"{reference.path}; embed it with --embedder {name} first (it has: {', '.join(other.embedders) or 'none'})")
        ((_, audio, text),), ((_, their_audio, their_text),) = reference.layout([name]), other.layout([name])
        if (audio, text) != (their_audio, their_text):
            raise ClapmosError(f"{other_option} {other.path}: its {name!r} features are {_blocks(their_audio, their_text)}, those of "
                               f"{reference_option} {reference.path} {_blocks(audio, text)}; a run reads the same blocks from every store. "
                               "Embed both with the same embedder settings.")
        ours, theirs = identity_of(reference.embedder_attrs(name)), identity_of(other.embedder_attrs(name))
        differ = [f"{key}: {ours.get(key)!r} in {reference.path}, {theirs.get(key)!r} in {other.path}"
                  for key in sorted(set(ours) & set(theirs)) if ours[key] != theirs[key]]  # as FittedRun.check_store
        if differ:
            raise ClapmosError(f"{other_option} {other.path}: its {name!r} features were made differently from those of {reference_option} "
                               f"{reference.path}:\n  " + "\n  ".join(differ) + "\nEmbed both with the same embedder settings.")


def shared_clips(reference, other, embedder: str, split=None) -> int:
    """How many clips of ``other`` are also clips of ``split`` of ``reference`` (the same ``embedder`` audio vector)."""
    ours = {row.tobytes() for row in np.ascontiguousarray(reference.audio(embedder, split))}
    return int(sum(row.tobytes() in ours for row in np.ascontiguousarray(other.audio(embedder))))
