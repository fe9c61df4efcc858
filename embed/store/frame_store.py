"""Frame tokens in the store (schema version 2): laid out before embedding, written in blocks, read in batches.

``features/<embedder>/frames/`` holds every clip's tokens back to back::

    values (T, Df) float16 (or float32)   chunks of TOKEN_CHUNK tokens; compressed
    time   (T,) float32                   start of each token, seconds from its clip's start
    start  (N,) int64                     first token of each clip, laid out before any audio is read
    length (N,) int32                     tokens of each clip (written with the clip)
    done   (N,) bool                      which clips' tokens are written
    check  (N,) uint64                    each clip's checksum of its tokens and times (clapmos.embed.store.seals)
    attrs: frame_dim, frame_rate, frame_dtype, token_chunk, total_tokens, frames (what a token is)

The token counts are known from the audio headers before embedding (duration ->
windows -> tokens), so the layout is fixed up front: clips follow each other, and
every block of rows (the store's chunk of 64 clips) starts on a chunk boundary of
``values`` (:func:`clapmos.embed.store.frames.block_layout`). A block's writer writes whole chunks
of its own, data first and ``done`` last, exactly like the clip vectors; so resuming
after SIGKILL and the Dask engine work unchanged. Readers of version 1 see the same
clip vectors and never look inside ``frames/``.

This module is a mixin of :class:`clapmos.embed.store.feature_store.FeatureStore`; see ``FeatureStore.frames``
and ``FeatureStore.iter_frames``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import zarr

from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.store import seals
from clapmos.embed.store.frames import Frames, block_layout, clip_capacities
from clapmos.embed.store.schema import chunk_digests, read_column

FRAMES_STORE_VERSION = 2
TOKEN_CHUNK = 256  # tokens per chunk of frames/values (CLAP: 512 KB in float16)
FRAME_DTYPES = ("float16", "float32")
#: Attributes that make two sets of frames interchangeable for a model (besides the embedder's own identity).
FRAME_IDENTITY_ATTRS = ("frame_dim", "frame_rate", "frames")


class FrameStoreMixin:
    """Frame-token methods of :class:`clapmos.embed.store.feature_store.FeatureStore` (schema version 2)."""

    # provided by FeatureStore
    group: zarr.Group
    path: Path
    corpus: str

    def __len__(self) -> int: ...
    def rows(self, split: str | list[str] | None = None) -> np.ndarray: ...
    def items(self, split: str | list[str] | None = None) -> pd.DataFrame: ...
    def has_text(self, embedder: str) -> bool: ...
    def chunk_rows(self, key: str) -> int: ...
    def _read_flags(self, embedder: str, array: zarr.Array, what: str) -> np.ndarray: ...
    def _features_group(self, embedder: str) -> zarr.Group: ...
    def _writable(self, key: str) -> zarr.Group: ...

    # ------------------------------------------------------------------ state
    def has_frames(self, embedder: str) -> bool:
        """Whether ``embedder`` has a frame-token layout in this store (written rows: :meth:`frames_done`)."""
        group = self._features_group(embedder)
        return "frames" in group and "frame_dim" in group["frames"].attrs

    def frame_attrs(self, embedder: str) -> dict[str, Any]:
        """What the frame tokens of ``embedder`` are: ``frame_dim``, ``frame_rate`` (tokens/s), ``frame_dtype``..."""
        return dict(self._frames_group(embedder).attrs)

    def frames_done(self, embedder: str) -> np.ndarray:
        """Which rows have their frame tokens written (all False when the store has no frames of ``embedder``)."""
        if not self.has_frames(embedder):
            return np.zeros(len(self), dtype=bool)
        return np.asarray(self._read_flags(embedder, self._frames_group(embedder)["done"], "frame tokens' done flags"), dtype=bool)

    # ------------------------------------------------------------------ writing
    def prepare_frames(self, key: str, frame_dim: int, capacities: np.ndarray, attrs: dict[str, Any], dtype: str = "float16") -> None:
        """Lay out ``features/<key>/frames`` for clips of ``capacities`` tokens (or check the existing layout).

        ``key`` is what :meth:`~clapmos.embed.store.feature_store.FeatureStore.prepare_features` returned (the
        embedder, or the hidden group an ``--overwrite`` builds, which starts without
        frames). An existing layout made with another token width, rate, dtype or other
        clip lengths is an error: ``--overwrite`` rebuilds the embedder's features beside
        the old ones.
        """
        if dtype not in FRAME_DTYPES:
            raise ClapmosError(f"--frame-dtype must be one of {', '.join(FRAME_DTYPES)}, got {dtype!r}")
        group = self._writable(key)
        starts, total = block_layout(capacities, self.chunk_rows(key), TOKEN_CHUNK)
        wanted = {**attrs, "frame_dim": int(frame_dim), "frame_dtype": dtype}
        if "frames" in group and "frame_dim" in group["frames"].attrs:
            old = dict(group["frames"].attrs)
            changed = [f"{k}: store has {old.get(k)!r}, this run {v!r}" for k, v in wanted.items() if k in (*FRAME_IDENTITY_ATTRS, "frame_dtype") and old.get(k) != v]
            if not changed and not np.array_equal(self._layout(group["frames/start"], starts), starts):
                changed = ["the clips' lengths (their audio files changed since the frames were laid out)"]
            if changed:
                raise ClapmosError(
                    f"{self.path}: frame tokens of {key!r} were made differently ({'; '.join(changed)}). "
                    "Pass --overwrite to replace the embedder's features and frames (built beside the old ones, "
                    "which stay usable until the new ones are complete), or write to another store."
                )
            return
        if "frames" in group:  # laid out before its attributes: no token of it was written
            del group["frames"]
        frames = group.create_group("frames")
        rows = self.chunk_rows(key)
        n = len(starts)
        frames.create_array("values", shape=(total, frame_dim), dtype=dtype, chunks=(TOKEN_CHUNK, frame_dim), fill_value=0)
        frames.create_array("time", shape=(total,), dtype="float32", chunks=(TOKEN_CHUNK,), fill_value=0)
        frames.create_array("start", shape=(n,), dtype="int64", chunks=(rows,), fill_value=0)
        _write_layout(frames["start"], starts)
        frames.create_array("length", shape=(n,), dtype="int32", chunks=(rows,), fill_value=0)
        frames.create_array("done", shape=(n,), dtype="bool", chunks=(rows,), fill_value=False)
        seals.create_seals(frames, [seals.GROUP], n, rows)  # frames/check: each clip's tokens' digest
        # attributes last: a frames group without them is unfinished and laid out again
        frames.attrs.update({**wanted, "token_chunk": TOKEN_CHUNK, "total_tokens": int(total)})
        version = int(self.group.attrs.get("clapmos_store_version", 1))
        self.group.attrs["clapmos_store_version"] = max(version, FRAMES_STORE_VERSION)

    def _layout(self, start: zarr.Array, starts: np.ndarray) -> np.ndarray:
        """The stored first token of each clip; a damaged ``start`` array is laid out again from the headers (``starts``)."""
        try:
            return read_column(start, self.path)
        except ClapmosError:  # damaged: the layout is a function of the headers, written again (tokens are checked when read)
            _write_layout(start, starts)
            return starts

    def _write_frames(self, key: str, first_row: int, frames: Frames) -> None:
        """Write the tokens of rows ``first_row:first_row+len(frames)`` (one whole block), then mark them done."""
        group = self._writable(key)["frames"]
        stop_row = first_row + len(frames)
        starts = np.asarray(group["start"][first_row:stop_row])
        end = int(group["start"][stop_row]) if stop_row < len(self) else int(group["values"].shape[0])
        lengths = frames.lengths
        too_long = np.flatnonzero(lengths > clip_capacities(starts, end))
        if len(too_long):
            ids = self.items()["id"].to_numpy()[first_row + too_long]
            raise ClapmosError(
                f"{len(too_long)} clip(s) decoded to more audio than their file headers say, so their frame tokens do "
                f"not fit the layout made from the headers:\n{listing([str(i) for i in ids])}\n"
                "Convert these files to wav or flac (whose headers are exact), then run the command again with --overwrite."
            )
        first = int(starts[0])
        where = np.repeat(starts - first, lengths) + (np.arange(len(frames.values)) - np.repeat(frames.offsets[:-1], lengths))
        values = np.zeros((end - first, frames.frame_dim), dtype=group["values"].dtype)
        values[where] = frames.values
        times = np.zeros(end - first, dtype=np.float32)
        times[where] = frames.times if frames.times is not None else 0.0
        group["values"][first:end] = values
        group["time"][first:end] = times
        group["length"][first_row:stop_row] = lengths.astype(np.int32)
        if seals.sealed(group):  # as they will be read back: the stored dtype, clip by clip
            group[seals.GROUP][first_row:stop_row] = seals.token_digests(values, times, starts - first, lengths)
        group["done"][first_row:stop_row] = True

    # ------------------------------------------------------------------ reading
    def frames(self, embedder: str, split: str | list[str] | None = None, text: bool = True) -> Frames:
        """The frame tokens of ``split``'s clips in memory (values in the stored dtype), with their text vectors.

        For a split too large for memory, use :meth:`iter_frames`.
        """
        return self.read_frames(embedder, self.rows(split), text)

    def iter_frames(
        self, embedder: str, split: str | list[str] | None = None, batch_size: int = 256, text: bool = True
    ) -> Iterator[Frames]:
        """The frame tokens of ``split`` in batches of ``batch_size`` clips, in store order; only one batch is in memory."""
        rows = self.rows(split)
        self.check_frames(embedder, rows)
        for first in range(0, len(rows), batch_size):
            yield self.read_frames(embedder, rows[first : first + batch_size], text, checked=True)

    def read_frames(self, embedder: str, rows: np.ndarray, text: bool = True, checked: bool = False) -> Frames:
        """The frame tokens of store rows ``rows`` (any order), read block by block."""
        rows = np.asarray(rows, dtype=np.int64)
        if not checked:
            self.check_frames(embedder, rows)
        try:
            values, times, offsets, damaged = self._read_tokens(embedder, rows)
        except seals.CHUNK_ERRORS:  # a chunk that does not decode: which clips, block by block
            values, damaged = None, self._damaged_tokens(embedder, rows)
        if len(damaged):
            raise seals.damaged_error(self, embedder, damaged, "frame tokens")
        text_vectors = None
        if text and self.has_text(embedder):
            text_vectors = self.read_rows(embedder, "text", rows)
        ids = self.items()["id"].to_numpy()[rows]
        return Frames(values, offsets, times, text_vectors, None, ids)

    def _damaged_tokens(self, embedder: str, rows: np.ndarray) -> np.ndarray:
        """Which of ``rows`` have frame tokens that do not read back as written (block by block)."""
        return seals.checked(rows, self.chunk_rows(embedder), lambda at: self._read_tokens(embedder, at)[3])

    def _read_tokens(self, embedder: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Tokens, times and offsets of ``rows``, and the rows whose tokens' digests differ; raises if a chunk does not decode."""
        group = self._frames_group(embedder)
        starts = np.asarray(group["start"].get_coordinate_selection(rows))  # only the chunks of these rows
        lengths = np.asarray(group["length"].get_coordinate_selection(rows)).astype(np.int64)
        step = self.chunk_rows(embedder)
        values = np.empty((int(lengths.sum()), int(group["values"].shape[1])), dtype=group["values"].dtype)
        times = np.empty(len(values), dtype=np.float32)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        blocks = rows // step
        for block in np.unique(blocks):  # one read per block of rows: its tokens are contiguous
            mine = np.flatnonzero(blocks == block)
            low, high = int(starts[mine].min()), int((starts[mine] + lengths[mine]).max())
            span_values, span_times = group["values"][low:high], group["time"][low:high]
            for i in mine:
                a, b = starts[i] - low, starts[i] - low + lengths[i]
                values[offsets[i] : offsets[i + 1]] = span_values[a:b]
                times[offsets[i] : offsets[i + 1]] = span_times[a:b]
        if not seals.sealed(group):
            return values, times, offsets, rows[:0]
        recorded = group[seals.GROUP].get_coordinate_selection(rows)
        return values, times, offsets, rows[seals.mismatched(recorded, seals.clip_digests(values, times, offsets))]

    def check_frames(self, embedder: str, rows: np.ndarray) -> None:
        """Refuse, naming the command that fixes it, rows without frames or with none at all."""
        if not self.has_frames(embedder):
            raise ClapmosError(f"{self.path} has no frame tokens of {embedder!r}. {self.frames_hint(embedder)}")
        missing = rows[~self.frames_done(embedder)[rows]]
        if len(missing):
            raise ClapmosError(
                f"{self.path}: {len(missing)} of {len(rows)} clips have no frame tokens of {embedder!r} written yet. "
                f"{self.frames_hint(embedder)}\n{listing(f'{r.id}: {r.path}' for r in self.items().iloc[missing].itertuples())}"
            )
        empty = rows[self._read_flags(embedder, self._frames_group(embedder)["length"], "frame tokens")[rows] == 0]
        damaged = self._damaged_tokens(embedder, empty)  # a length chunk deleted reads as 0 tokens
        if len(damaged):
            raise seals.damaged_error(self, embedder, damaged, "frame tokens")
        if len(empty):
            ids = self.items()["id"].to_numpy()[empty]
            raise ClapmosError(
                f"{self.path}: {len(empty)} clip(s) have zero frame tokens of {embedder!r}, which a frame head cannot read:\n"
                f"{listing([str(i) for i in ids])}\nRemove them from the corpus (or their split), or replace their audio."
            )

    def frames_hint(self, embedder: str) -> str:
        """The command that adds (or finishes) the frame tokens of ``embedder``."""
        source = self.group.attrs.get("source") or "ROOT"
        return (
            f"Add them with `clapmos embed --corpus {self.corpus or 'CORPUS'} --root {source} --embedder {embedder} "
            f"--frames --out {self.path} ...` (the same options as before; clip vectors already written are kept)."
        )

    def frames_summary(self, embedder: str) -> str | None:
        """One line for ``cli.py info``: width, rate, dtype and how many clips have tokens."""
        if not self.has_frames(embedder):
            return None
        attrs = self.frame_attrs(embedder)
        group = self._frames_group(embedder)
        (done, broken), (lengths, unread) = seals.read_flags(group["done"]), seals.read_flags(group["length"])
        done = np.asarray(done, dtype=bool)
        lengths = np.asarray(lengths)[done & ~np.isin(np.arange(len(done)), unread)]
        mean = f", {lengths.mean():.1f} tokens per clip" if len(lengths) else ""
        damaged = np.union1d(broken, unread)
        return (
            f"frames     {embedder}: {attrs['frame_dim']}-d tokens at {attrs.get('frame_rate', '?')} per second, "
            f"{attrs['frame_dtype']}{mean}, {int(done.sum())}/{len(done)} clips done"
            + (f" (done flags or lengths damaged in rows {seals.row_spans(damaged)}; the same embed command embeds them again)" if len(damaged) else "")
        )

    def _frames_group(self, embedder: str) -> zarr.Group:
        if not self.has_frames(embedder):
            raise ClapmosError(f"{self.path} has no frame tokens of {embedder!r}. {self.frames_hint(embedder)}")
        return self._features_group(embedder)["frames"]


def _write_layout(start: zarr.Array, starts: np.ndarray) -> None:
    """``frames/start``, with the digests of its chunks (:func:`clapmos.embed.store.schema.chunk_digests`)."""
    start[:] = starts
    start.attrs["checksums"] = chunk_digests(starts, int(start.chunks[0]))
