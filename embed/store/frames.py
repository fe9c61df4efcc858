"""Frame tokens: clips as sequences of vectors, held back to back, and how the store lays them out.

A clip's *frame tokens* are a ``(length, frame_dim)`` matrix, one row per short stretch
of time (CLAP: 0.3125 s, M2D: 0.16 s, ``spectral``: 0.2 s); clips differ in length.
:class:`Frames` holds the tokens of ``n`` clips back to back in one
``(total_tokens, frame_dim)`` array with ``offsets`` marking where each clip starts, the
start time of every token, and optionally the clips' text vectors and clip-level
matrix. It behaves like a sequence of clips for scikit-learn: ``len``, ``shape``
(``(n_clips, frame_dim)``; the token axis is ragged) and indexing by integer arrays,
boolean masks and slices give the selected clips, so folds, ``_safe_indexing`` and
``CVEnsemble`` slice it like a matrix of rows.

>>> frames = Frames.from_list([np.ones((3, 2)), np.zeros((1, 2))], text=np.eye(2))
>>> len(frames), frames.shape, frames.lengths.tolist()
(2, (2, 2), [3, 1])
>>> frames[[1, 0]].lengths.tolist(), frames[np.array([False, True])].text.tolist()
([1, 3], [[0.0, 1.0]])

:func:`block_layout` places clips on disk: each block of clips (the store's rows
written together) starts on a chunk boundary of the token array, so two block writers
never share a chunk file.

>>> starts, total = block_layout([3, 2, 4], rows_per_block=2, token_chunk=4)
>>> starts.tolist(), total
([0, 3, 8], 12)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Frames:
    """The frame tokens of ``n`` clips, back to back (see the module docstring).

    Attributes
    ----------
    values : ndarray of shape (total_tokens, frame_dim)
        Every clip's tokens, clip after clip (any float dtype; the store gives float16 or float32).
    offsets : ndarray of shape (n + 1,)
        Clip ``i`` is ``values[offsets[i]:offsets[i + 1]]``.
    times : ndarray of shape (total_tokens,) or None
        Start of each token, in seconds from the start of its clip.
    text : ndarray of shape (n, text_dim) or None
        The clips' text (prompt) vectors, for heads that read them.
    vectors : ndarray of shape (n, n_features) or None
        The clips' clip-level matrix (``FeatureStore.stacked``), for clip-vector heads
        fitted beside frame heads.
    ids : ndarray of shape (n,) or None
        Item ids, for messages.
    """

    values: np.ndarray
    offsets: np.ndarray
    times: np.ndarray | None = None
    text: np.ndarray | None = None
    vectors: np.ndarray | None = None
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        offsets = np.asarray(self.offsets, dtype=np.int64)
        object.__setattr__(self, "offsets", offsets)
        if self.values.ndim != 2:
            raise ValueError(f"frame values must be 2-D (tokens, frame_dim), got shape {self.values.shape}")
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(self.values) or (np.diff(offsets) < 0).any():
            raise ValueError(f"offsets must rise from 0 to the {len(self.values)} tokens, got {offsets[:5]}...{offsets[-3:]}")
        n = len(offsets) - 1
        if self.times is not None and len(self.times) != len(self.values):
            raise ValueError(f"{len(self.times)} token times for {len(self.values)} tokens")
        for name in ("text", "vectors", "ids"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} rows for {n} clips")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_list(
        cls,
        sequences: Sequence[np.ndarray],
        times: Sequence[np.ndarray] | None = None,
        text: np.ndarray | None = None,
        vectors: np.ndarray | None = None,
        ids: np.ndarray | None = None,
    ) -> "Frames":
        """Clips given one ``(length_i, frame_dim)`` matrix each (and, optionally, their token times)."""
        if not len(sequences):
            raise ValueError("no clips given")
        lengths = [len(s) for s in sequences]
        values = np.concatenate([np.asarray(s) for s in sequences])
        joined = None if times is None else np.concatenate([np.asarray(t, dtype=np.float32) for t in times])
        return cls(values, np.concatenate([[0], np.cumsum(lengths)]), joined, text, vectors, ids)

    @classmethod
    def from_matrix(cls, X: np.ndarray, text: np.ndarray | None = None) -> "Frames":
        """One token per clip: the rows of a clip-level matrix ``X``.

        >>> Frames.from_matrix(np.arange(6.0).reshape(3, 2)).lengths.tolist()
        [1, 1, 1]
        """
        return cls(X, np.arange(len(X) + 1), np.zeros(len(X), np.float32), text)

    # ------------------------------------------------------------------ sequence protocol
    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_clips, frame_dim)``: rows like a matrix; each row is a sequence of tokens."""
        return (len(self), self.frame_dim)

    @property
    def frame_dim(self) -> int:
        return int(self.values.shape[1])

    @property
    def text_dim(self) -> int:
        return 0 if self.text is None else int(self.text.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per clip."""
        return np.diff(self.offsets)

    def clip(self, i: int) -> np.ndarray:
        """The ``(length, frame_dim)`` tokens of clip ``i``."""
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def clip_times(self, i: int) -> np.ndarray:
        """Start times (s) of clip ``i``'s tokens (token index / position when no times are held)."""
        if self.times is None:
            return np.arange(self.lengths[i], dtype=np.float32)
        return self.times[self.offsets[i] : self.offsets[i + 1]]

    def token_index(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For clips ``rows``: each token's position in ``values``, its clip (0..len(rows)-1) and its place in that clip."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        owner = np.repeat(np.arange(len(rows)), lengths)
        first = np.cumsum(lengths) - lengths
        position = np.arange(int(lengths.sum())) - np.repeat(first, lengths)
        return self.offsets[rows][owner] + position, owner, position

    def __getitem__(self, key) -> "Frames":
        """The clips selected by an integer array, a boolean mask, a slice or an int (as a one-clip ``Frames``)."""
        if isinstance(key, tuple):  # scikit-learn's _safe_indexing asks for X[rows, ...]
            if len(key) != 2 or key[1] is not Ellipsis:
                raise IndexError("Frames are indexed by clip only")
            key = key[0]
        rows = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key)
        if rows.dtype == bool:
            if rows.shape != (len(self),):
                raise IndexError(f"boolean index of shape {rows.shape} for {len(self)} clips")
            rows = np.flatnonzero(rows)
        rows = np.atleast_1d(rows).astype(np.int64)
        if len(rows) and (rows.min() < -len(self) or rows.max() >= len(self)):
            raise IndexError(f"clip index out of range for {len(self)} clips")
        rows = rows % max(len(self), 1)
        tokens, _, _ = self.token_index(rows)
        lengths = self.lengths[rows]
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return Frames(
            self.values[tokens],
            np.concatenate([[0], np.cumsum(lengths)]),
            None if self.times is None else self.times[tokens],
            pick(self.text),
            pick(self.vectors),
            pick(self.ids),
        )

    def __repr__(self) -> str:
        extra = "".join(f", {name}_dim={getattr(self, name).shape[1]}" for name in ("text", "vectors") if getattr(self, name) is not None)
        return f"Frames(n_clips={len(self)}, frame_dim={self.frame_dim}, tokens={len(self.values)}{extra})"

    def empty_clips(self) -> np.ndarray:
        """Positions of the clips with no token at all."""
        return np.flatnonzero(self.lengths == 0)

    def finite_clips(self) -> np.ndarray:
        """Per clip, whether all its tokens are finite (no NaN or inf).

        >>> Frames.from_list([np.ones((2, 1)), np.array([[1.0], [np.nan]])]).finite_clips().tolist()
        [True, False]
        """
        bad_tokens = np.flatnonzero(~np.isfinite(self.values).all(axis=1))
        finite = np.ones(len(self), dtype=bool)
        finite[np.searchsorted(self.offsets, bad_tokens, side="right") - 1] = False
        return finite


def block_layout(capacities: Sequence[int], rows_per_block: int, token_chunk: int) -> tuple[np.ndarray, int]:
    """First token of every clip, and the total number of tokens, when blocks start on chunk boundaries.

    Clips follow each other inside a block of ``rows_per_block`` clips; the next block
    starts at the first multiple of ``token_chunk`` after the end of the previous one.
    The gap (less than one chunk per block) is never written: zarr does not store an
    unwritten chunk, and the unused end of a block's last chunk is zeros, which the
    compressor makes nearly free.
    """
    capacities = np.asarray(capacities, dtype=np.int64)
    starts = np.empty(len(capacities), dtype=np.int64)
    position = 0
    for first in range(0, len(capacities), rows_per_block):
        block = capacities[first : first + rows_per_block]
        position = -(-position // token_chunk) * token_chunk
        starts[first : first + len(block)] = position + np.cumsum(block) - block
        position += int(block.sum())
    return starts, position


def clip_capacities(starts: np.ndarray, total: int) -> np.ndarray:
    """Tokens each clip may hold in a layout: up to the next clip's start (the last clip of a block gets the block's slack)."""
    return np.diff(np.append(np.asarray(starts, dtype=np.int64), total))
