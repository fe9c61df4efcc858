"""Checksums ("seals") of a store's rows: written with the rows, verified where they are read.

Every features group made by this clapmos records one 64-bit digest per row and array::

    features/<embedder>/check/audio    (N,) uint64   digest of the row's audio vector
    features/<embedder>/check/text     (N,) uint64   of its text vector (absent for an audio-only embedder)
    features/<embedder>/frames/check   (N,) uint64   of the clip's frame tokens and their times

A row's digests are written after its data and before its ``done`` flag, in the same block
(:meth:`~clapmos.embed.store.feature_store.FeatureStore.write_block`), by whichever process
writes it (``embed``, Dask workers, the ``score`` cache). Reading rows hashes them again: a
chunk deleted (read back as the fill value), truncated or overwritten makes its rows' digests
differ or its chunk fail to decode, and the reader names those clips instead of using them.
0 means "not sealed": a features group without ``check`` was written by a clapmos before
seals (see the README, "The store": read with a warning).

>>> a = row_digests([np.ones((2, 3), np.float32)])
>>> bool(a[0] == a[1] != 0), bool(row_digests([np.zeros((1, 3), np.float32)])[0] != a[0])
(True, True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import zarr

from clapmos.embed.errors import ClapmosError, listing

GROUP = "check"  # features/<embedder>/check/<kind>; frames/check for the frame tokens

#: What reading a damaged chunk raises: the codec's ``RuntimeError`` (zstd: "invalid input data", for a
#: truncated, emptied or overwritten chunk), ``ValueError`` (a chunk that decodes to the wrong size: a reshape
#: or a view fails), ``OSError`` (the file cannot be read). Anything else is a bug and is raised as it is,
#: never reported as damage (``tests/test_store_checksums.py`` damages every array these ways).
CHUNK_ERRORS = (RuntimeError, ValueError, OSError)


def row_digests(parts: list[np.ndarray]) -> np.ndarray:
    """One nonzero 64-bit digest per row of the arrays ``parts`` (same number of rows), over their bytes."""
    n = len(parts[0])
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        digest = hashlib.blake2b(digest_size=8)
        for part in parts:
            digest.update(np.ascontiguousarray(part[i]).tobytes())
        out[i] = int.from_bytes(digest.digest(), "little") or 1
    return out


def token_digests(values: np.ndarray, times: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Digest of each clip's tokens ``values[s:s+n]`` and times ``times[s:s+n]`` (``s, n`` from ``starts``, ``lengths``)."""
    out = np.empty(len(starts), dtype=np.uint64)
    for i, (s, n) in enumerate(zip(np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64))):
        out[i] = row_digests([values[s : s + n].reshape(1, -1), times[s : s + n].reshape(1, -1)])[0]
    return out


def create_seals(group: zarr.Group, names: list[str], n: int, chunk: int) -> None:
    """Make the (empty) digest arrays ``names`` under ``group/check`` (``group`` itself for frames: ``frames/check``)."""
    for name in names:
        group.create_array(name, shape=(n,), dtype="uint64", chunks=(chunk,), fill_value=0)


def sealed(group: zarr.Group) -> bool:
    """Whether the rows of a features group (or its ``frames`` group) carry digests (groups written before seals do not)."""
    return GROUP in group


def mismatched(recorded: np.ndarray, digests: np.ndarray) -> np.ndarray:
    """Positions whose recorded digest is missing (0: its chunk deleted) or differs."""
    recorded = np.asarray(recorded, dtype=np.uint64)
    return np.flatnonzero((recorded == 0) | (recorded != digests))


class DamagedRowsError(ClapmosError):
    """Rows of a store whose chunks are damaged; ``rows`` are their row numbers (the message names the clips)."""

    def __init__(self, message: str, rows: np.ndarray) -> None:
        super().__init__(message)
        self.rows = rows


def damaged_error(store, embedder: str, rows: np.ndarray, what: str) -> DamagedRowsError:
    """The message naming ``rows`` (by id and path) of ``store`` whose ``what`` of ``embedder`` are damaged, and what to do."""
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    try:
        named = [f"{r.id}: {r.path}" for r in store.items().iloc[rows].itertuples()]
    except ClapmosError:  # the item table is damaged too: rows by number
        named = [f"row {r}" for r in rows]
    return DamagedRowsError(
        f"{store.path}: the stored {what} of {len(rows)} clip(s) of {embedder!r} are damaged (a chunk of the store was "
        f"deleted, truncated or changed after clapmos wrote it), so they are not used:\n{listing(named)}\n"
        "Run the same `clapmos embed` command again: it embeds these clips again and keeps the rest.",
        rows,
    )


def checked(rows: np.ndarray, step: int, check: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The damaged ones of ``rows``: ``check(rows)`` returns those whose digests differ and raises when a chunk
    does not decode; then it is run block by block (``step`` rows), and a block that does not decode is damaged whole."""
    rows = np.asarray(rows, dtype=np.int64)
    try:  # one read of every row; only when a chunk does not decode, block by block
        return np.asarray(check(rows), dtype=np.int64)
    except CHUNK_ERRORS:
        pass
    blocks = rows // step
    bad = []
    for block in np.unique(blocks):
        at = rows[blocks == block]
        try:
            bad.append(np.asarray(check(at), dtype=np.int64))
        except CHUNK_ERRORS:  # a chunk of the block does not decode: the block is damaged
            bad.append(at)
    return np.concatenate(bad) if bad else np.zeros(0, dtype=np.int64)


def read_flags(array: zarr.Array, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start:stop`` of a per-row array (``done``, frame ``length``...) and the rows among them whose chunk
    does not decode; those read as the fill value (for ``done``: not done). Every read of a store's flags goes here.

    >>> flags = zarr.create_array(store={}, shape=(5,), chunks=(2,), dtype="bool", fill_value=False)
    >>> flags[:3] = True
    >>> values, broken = read_flags(flags)
    >>> values.tolist(), broken.tolist(), read_flags(flags, 2, 4)[0].tolist()
    ([True, True, True, False, False], [], [True, False])
    """
    stop = int(array.shape[0]) if stop is None else stop
    try:
        return np.asarray(array[start:stop]), np.zeros(0, dtype=np.int64)
    except CHUNK_ERRORS:  # a chunk that does not decode: which rows, block by block
        pass
    rows = np.arange(start, stop, dtype=np.int64)
    broken = checked(rows, int(array.chunks[0]), lambda at: (array.get_coordinate_selection(at), at[:0])[1])
    values = np.full(len(rows), array.fill_value, dtype=array.dtype)
    intact = np.setdiff1d(rows, broken)
    values[intact - start] = array.get_coordinate_selection(intact)
    return values, broken


def row_spans(rows: np.ndarray) -> str:
    """Row numbers as short ranges, for a message.

    >>> row_spans(np.array([0, 1, 2, 3, 7, 9, 10]))
    '0-3, 7, 9-10'
    """
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    runs = np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1) if len(rows) else []
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else f"{run[0]}" for run in runs)


def read_vectors(features: zarr.Group, kind: str, rows: np.ndarray, whole: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ``kind`` vectors of ``rows`` (float32) and the rows among them whose digests differ (none when unsealed).

    Raises when a chunk does not decode (see :func:`checked`)."""
    array = features[kind]
    data = np.asarray(array[:] if whole else array.get_orthogonal_selection((rows, slice(None))), dtype=np.float32)
    if not sealed(features):
        return data, np.zeros(0, dtype=np.int64)
    recorded = features[GROUP][kind][:] if whole else features[GROUP][kind].get_coordinate_selection(rows)
    return data, rows[mismatched(recorded, row_digests([data]))]


def clip_digests(values: np.ndarray, times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Digest of each clip's tokens ``values[offsets[i]:offsets[i+1]]`` and their times (as stored: their dtype's bytes)."""
    return token_digests(values, times, offsets[:-1], np.diff(offsets))


def unmark_damaged(store, embedder: str, frames: bool) -> np.ndarray:
    """Mark the written rows of ``embedder`` that do not read back as written as not done (so ``embed`` redoes them); return them.

    A ``done`` chunk that does not decode is written again whole (its rows not done).
    With ``frames``, the frame tokens are checked too (and their ``done`` flags cleared).
    """
    group = store.group[f"features/{embedder}"]
    flags = [group["done"]] + ([group["frames/done"]] if frames and "frames/done" in group else [])
    step, n = int(group["done"].chunks[0]), len(store)
    bad: list[list[np.ndarray]] = [[] for _ in flags]
    for array, found in zip(flags, bad):  # flags whose chunk does not decode: those blocks are not done
        broken = read_flags(array)[1]
        for start in np.unique(broken // step) * step:
            array[start : min(start + step, n)] = False
        found.append(broken)
    done = [np.asarray(array[:], dtype=bool) for array in flags]
    bad[0].append(store.damaged_rows(embedder, np.flatnonzero(done[0])))
    if len(flags) > 1:
        bad[1].append(store._damaged_tokens(embedder, np.flatnonzero(done[0] & done[1])))
    rows = [np.unique(np.concatenate(found)).astype(np.int64) for found in bad]
    for array, mine in zip(flags, rows):
        array.set_coordinate_selection(mine, False)
    return np.unique(np.concatenate(rows))
