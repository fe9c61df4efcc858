"""Checksums of the rows of a ``score`` cache shard: a damaged row is found before its numbers are used.

When rows of a shard are written, each row's digest is stored beside them::

    checks/<embedder>          (N,) uint64   digest of the row's audio (and text) vector
    checks/<embedder>.frames   (N,) uint64   digest of the row's frame tokens and their times

(0: no digest, e.g. a row cached by an older clapmos). Reading a row, its vectors and tokens
are hashed again and compared: any difference (a deleted chunk read back as the fill value,
a truncated or garbage chunk that does not decode, a chunk of ``frames/start`` pointing at
other tokens) makes the row *damaged*, and :class:`clapmos.embed.engines.score_cache.EmbeddingCache`
embeds it again instead of using it.

>>> row_digests([np.ones((2, 3), np.float32)])[0] == row_digests([np.ones((2, 3), np.float32)])[1] != 0
True
"""

from __future__ import annotations

import hashlib

import numpy as np

from clapmos.embed.store import FeatureStore

GROUP = "checks"


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


def frame_digests(shard: FeatureStore, embedder: str, rows: np.ndarray) -> np.ndarray:
    """Digests of the frame tokens (values and times) of ``rows``."""
    frames = shard.read_frames(embedder, rows, text=False, checked=True)
    out = np.empty(len(rows), dtype=np.uint64)
    for i in range(len(rows)):
        a, b = int(frames.offsets[i]), int(frames.offsets[i + 1])
        out[i] = row_digests([frames.values[a:b].reshape(1, -1), frames.times[a:b].reshape(1, -1)])[0]
    return out


def vector_digests(shard: FeatureStore, embedder: str, rows: np.ndarray) -> np.ndarray:
    """Digests of the audio (and text) vectors of ``rows``."""
    parts = [shard.read_rows(embedder, "audio", rows)]
    if shard.has_text(embedder):
        parts.append(shard.read_rows(embedder, "text", rows))
    return row_digests(parts)


def seal(shard: FeatureStore, embedder: str, rows: np.ndarray, frames: bool) -> None:
    """Store the digests of ``rows`` just written (and of their frame tokens, with ``frames``)."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return
    for name, digests in [(embedder, vector_digests)] + ([(f"{embedder}.frames", frame_digests)] if frames else []):
        array = _array(shard, name)
        array.set_coordinate_selection(rows, digests(shard, embedder, rows))


class Sealer:
    """What the engines call once rows ``start:stop`` of a shard are written: store their digests.

    Plain data (picklable), so Dask workers seal the rows they write themselves: a block a
    worker wrote before a run was stopped is sealed like one written in this process.
    :meth:`prepare` makes the digest arrays first, in one process, before any worker writes.
    """

    def __init__(self, embedder: str, frames: bool) -> None:
        self.embedder, self.frames = embedder, frames

    def prepare(self, shard: FeatureStore) -> None:
        _array(shard, self.embedder)
        if self.frames:
            _array(shard, f"{self.embedder}.frames")

    def __call__(self, shard: FeatureStore, start: int, stop: int) -> None:
        seal(shard, self.embedder, np.arange(start, stop), self.frames)


def intact(shard: FeatureStore, embedder: str, rows: np.ndarray, frames: bool) -> np.ndarray:
    """Which of ``rows`` read back with their recorded digests (a row whose chunks do not decode is not intact)."""
    rows = np.asarray(rows, dtype=np.int64)
    good = np.zeros(len(rows), dtype=bool)
    if not len(rows):
        return good
    try:  # one read of every row; only when a chunk does not decode, block by block
        return _matches(shard, embedder, rows, frames)
    except Exception:  # noqa: BLE001 - any failure to read a damaged chunk means: not intact
        pass
    step = shard.chunk_rows(embedder)
    blocks = rows // step
    for block in np.unique(blocks):  # a chunk that does not decode condemns its block only
        at = np.flatnonzero(blocks == block)
        try:
            good[at] = _matches(shard, embedder, rows[at], frames)
        except Exception:  # noqa: BLE001 - any failure to read a damaged chunk means: not intact
            good[at] = False
    return good


def _matches(shard: FeatureStore, embedder: str, rows: np.ndarray, frames: bool) -> np.ndarray:
    checks = shard.group.get(f"{GROUP}/{embedder}")
    if checks is None:
        return np.zeros(len(rows), dtype=bool)
    recorded = np.asarray(checks.get_coordinate_selection(rows), dtype=np.uint64)
    ok = (recorded != 0) & (recorded == vector_digests(shard, embedder, rows))
    if frames:
        checks = shard.group.get(f"{GROUP}/{embedder}.frames")
        if checks is None:
            return np.zeros(len(rows), dtype=bool)
        recorded = np.asarray(checks.get_coordinate_selection(rows), dtype=np.uint64)
        ok &= (recorded != 0) & (recorded == frame_digests(shard, embedder, rows))
    return ok


def _array(shard: FeatureStore, name: str):
    group = shard.group.require_group(GROUP)
    if name in group:
        return group[name]
    return group.create_array(name, shape=(len(shard),), dtype="uint64", chunks=(shard.chunk_rows(name.removesuffix(".frames")),), fill_value=0)
