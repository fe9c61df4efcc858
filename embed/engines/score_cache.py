"""The embedding cache of ``score``: a clip is embedded once, whatever set of files is scored later.

A cache is a folder that only grows::

    clapmos_cache.json          {"format": "clapmos-score-cache", "version": 1}
    shards/<time>-<hex>.zarr    ordinary clapmos stores (README, "The store"), one per batch of new clips

A shard's item ``id`` is the clip's *key*: the sha256 of the audio file's bytes, its segment
and its text (:func:`clip_keys`), so a copied or renamed file is found again and an edited
one is not. Its ``path`` is where the file was, its optional ``items/start_s``/``end_s`` the
segment. Rows are written by :func:`clapmos.embed.engines.sequence.embed_with` (either engine), whole chunks with the
``done`` mask last, so a ``score`` stopped at any point loses nothing: the unfinished blocks
of a shard are completed when they hold clips wanted again (and nothing that is not being
scored now), and other new clips go to a new shard.
A row serves an embedder only when its features were made like the run's training
features (:func:`clapmos.embed.store.feature_store.identity_of`); shards are never deleted. For a run with frame
heads the cache also holds the clips' frame tokens: a row serves it only when its tokens are
written too, with the run's token width and rate. Tokens are added to a shard all of whose
clips are being scored (its rows are then written again, with the same vectors); otherwise
the clips go to a new shard.

Every row is checked before it is used (:mod:`clapmos.embed.store.seals`, as in any store): its vectors
and tokens must read back with the digests stored when they were written. A damaged row (or
a shard that no longer opens) is not used: its clip is embedded again into a new shard, with
a warning naming the clip by its path and the shard to delete.

>>> import tempfile
>>> cache = EmbeddingCache.open(tempfile.mkdtemp() + "/cache")
>>> cache.locate("spectral", {"embedder": "spectral"}, ["ab12"])
{}
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clapmos.embed.corpora.table import Corpus
from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.files import file_sha256
from clapmos.embed.filesystems import begin_writing, complete_shards, end_writing, is_url, join, open_cache
from clapmos.embed.store.frame_store import FRAME_IDENTITY_ATTRS
from clapmos.embed.store.frames import Frames
from clapmos.embed.engines.sequence import Engine, embed_with
from clapmos.embed.store import FeatureStore, identity_of

CACHE_FORMAT = "clapmos-score-cache"
CACHE_VERSION = 1
MARKER = "clapmos_cache.json"
SHARD_SPLIT = "cache"


def clip_keys(inputs: pd.DataFrame, workers: int = 4) -> np.ndarray:
    """The cache key of every row of ``inputs`` (columns ``file``, ``start_s``, ``end_s``, ``text``)."""

    files = list(dict.fromkeys(inputs["file"]))
    with ThreadPoolExecutor(max(1, workers)) as pool:
        hashes = dict(zip(files, pool.map(file_sha256, files)))
    keys = [
        hashlib.sha256("\0".join([hashes[file], _bound(start), _bound(end), text]).encode()).hexdigest()
        for file, start, end, text in zip(inputs["file"], inputs["start_s"], inputs["end_s"], inputs["text"])
    ]
    return np.asarray(keys, dtype=object)


def _bound(value: float) -> str:
    return "" if value is None or math.isnan(value) else repr(float(value))


class EmbeddingCache:
    """A folder of shard stores holding embeddings of clips by key. Open with :meth:`open`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._open: dict[Path, FeatureStore] = {}
        self._intact: dict[tuple[Path, str, bool], dict[int, bool]] = {}  # rows already checked, per shard, embedder, frames
        self.damaged: dict[str, Path] = {}  # key -> shard, of the clips whose cached row is damaged (and found nowhere else)
        self._unreadable: set[Path] = set()

    @classmethod
    def open(cls, folder: str | Path) -> "EmbeddingCache":
        """Open the cache at ``folder``, creating it when absent; a folder that is not a cache is refused.

        ``folder`` may be a URL (``s3://...``): the cache is then kept on object storage
        (:mod:`clapmos.embed.filesystems`; a shard is listed once its ownership record is gone).
        """
        if is_url(folder):
            open_cache(str(folder), MARKER, {"format": CACHE_FORMAT, "version": CACHE_VERSION})
            return cls(str(folder))  # type: ignore[arg-type]
        folder = Path(folder)
        marker = folder / MARKER
        if marker.is_file():
            try:
                found = json.loads(marker.read_text())
            except (OSError, json.JSONDecodeError) as error:
                raise ClapmosError(f"{marker} is damaged ({error}); point --cache at another folder.") from None
            if found.get("format") != CACHE_FORMAT or found.get("version") != CACHE_VERSION:
                raise ClapmosError(
                    f"{folder} is a cache of another format or clapmos version ({found}); point --cache at another folder."
                )
        elif folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ClapmosError(
                f"{folder} exists and is not a clapmos embedding cache (no {MARKER}); "
                "clapmos never writes into it. Point --cache at a new or empty folder."
            )
        else:
            try:
                (folder / "shards").mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise ClapmosError(f"--cache {folder}: cannot make the cache folder there ({error.strerror}). Point --cache at a new folder.") from None
            marker.write_text(json.dumps({"format": CACHE_FORMAT, "version": CACHE_VERSION}) + "\n")
        return cls(folder)

    def shards(self) -> list[FeatureStore]:
        """The shard stores, oldest first (shards still being built are not listed)."""
        if is_url(self.folder):
            paths: list = complete_shards(str(self.folder))
            for path in paths:
                if path not in self._open:
                    self._open[path] = FeatureStore.open(path, mode="r+")
            return [self._open[path] for path in paths]
        paths = sorted(p for p in (self.folder / "shards").glob("*.zarr") if not p.name.startswith("."))
        for path in paths:
            if path not in self._open and path not in self._unreadable:
                try:
                    self._open[path] = FeatureStore.open(path, mode="r+")
                except Exception as error:  # noqa: BLE001 - a damaged shard is skipped, not fatal
                    self._skip(path, error)
        return [self._open[path] for path in paths if path in self._open]

    def _skip(self, path: Path, error: Exception) -> None:
        if path not in self._unreadable:
            self._unreadable.add(path)
            warnings.warn(f"the cache shard {path} is damaged ({type(error).__name__}: {error}); its clips are embedded again. Delete {path}.", stacklevel=3)

    # ------------------------------------------------------------------ reading
    def locate(
        self, embedder: str, identity: dict[str, Any], keys: Sequence[str], frames: dict[str, Any] | None = None
    ) -> dict[str, tuple[int, int]]:
        """``key -> (shard number, row)`` for the ``keys`` whose ``embedder`` features made like ``identity`` are written.

        With ``frames`` (the frame attributes a run was trained on), only rows whose frame
        tokens are written too, made like those.
        """
        wanted, found, damaged = set(keys), {}, {}
        for number, shard in enumerate(self.shards()):
            try:
                if not _made_like(shard, embedder, identity) or (frames is not None and not _frames_like(shard, embedder, frames)):
                    continue
                ids = shard.items()["id"].to_numpy()
                done = shard.done(embedder) & (shard.frames_done(embedder) if frames is not None else True)
            except Exception as error:  # noqa: BLE001 - a damaged item, done or attribute chunk: the shard is not used
                self._skip(Path(shard.path), error)
                continue
            rows = np.array([row for row in np.flatnonzero(done) if ids[row] in wanted and ids[row] not in found], dtype=np.int64)
            for row, good in zip(rows, self._check(shard, embedder, rows, frames is not None)):
                if good:
                    found[ids[row]] = (number, int(row))
                else:
                    damaged[ids[row]] = Path(shard.path)
        self.damaged.update({k: v for k, v in damaged.items() if k not in found})
        return found

    def _check(self, shard: FeatureStore, embedder: str, rows: np.ndarray, frames: bool) -> np.ndarray:
        """Which ``rows`` of ``shard`` are intact (each row is checked once per cache object)."""
        known = self._intact.setdefault((Path(shard.path), embedder, frames), {})
        new = np.array([r for r in rows if int(r) not in known], dtype=np.int64)
        known.update(zip(map(int, new), _intact(shard, embedder, new, frames)))
        return np.array([known[int(r)] for r in rows], dtype=bool)

    def vectors(self, embedder: str, identity: dict[str, Any], keys: Sequence[str], kind: str) -> np.ndarray:
        """The ``kind`` (``audio`` or ``text``) embeddings of ``keys``, in order; every key must be cached."""
        shards = self.shards()
        where = self._where(embedder, identity, keys)
        parts = {}
        for number in np.unique(where[:, 0]):
            at = np.flatnonzero(where[:, 0] == number)
            rows, inverse = np.unique(where[at, 1], return_inverse=True)
            parts[number] = (at, shards[number].read_rows(embedder, kind, rows)[inverse])
        width = next(iter(parts.values()))[1].shape[1] if parts else 0
        out = np.empty((len(keys), width), dtype=np.float32)
        for at, values in parts.values():
            out[at] = values
        return out

    def frames(self, embedder: str, identity: dict[str, Any], keys: Sequence[str], frames: dict[str, Any]) -> Frames:
        """The frame tokens of ``keys`` (with their text vectors), in order; every key must be cached with frames like ``frames``."""
        shards = self.shards()
        where = self._where(embedder, identity, keys, frames)
        clips: list[Frames | None] = [None] * len(keys)
        for number in np.unique(where[:, 0]):
            at = np.flatnonzero(where[:, 0] == number)
            part = shards[number].read_frames(embedder, where[at, 1], checked=True)  # rows checked by their digests
            for k, i in enumerate(at):
                clips[i] = part[k]
        sequences = [clip.values for clip in clips]
        text = None if clips[0].text is None else np.concatenate([clip.text for clip in clips])
        return Frames.from_list(sequences, [clip.times for clip in clips], text=text, ids=np.asarray(keys))

    def _where(self, embedder: str, identity: dict[str, Any], keys: Sequence[str], frames: dict[str, Any] | None = None) -> np.ndarray:
        """``(shard number, row)`` of every key, in order; an error when one is not cached."""
        located = self.locate(embedder, identity, keys, frames)
        absent = [k for k in keys if k not in located]
        if absent:
            raise ClapmosError(f"{self.folder}: {len(absent)} clip(s) are not cached for {embedder}; run the same command again.")
        return np.array([located[k] for k in keys], dtype=np.int64).reshape(-1, 2)

    # ------------------------------------------------------------------ writing
    def complete(
        self,
        embedder: str,
        identity: dict[str, Any],
        clips: pd.DataFrame,
        engine: Callable[[], Engine],
        window_s: float,
        hop_s: float,
        progress: bool = False,
        frames: dict[str, Any] | None = None,
    ) -> int:
        """Embed the ``clips`` (columns ``key``, ``file``, ``text``, ``start_s``, ``end_s``) not cached yet; return how many.

        ``engine`` is called only when something is missing: it returns the engine to embed
        with (:mod:`clapmos.embed.engines.sequence`: this process or Dask workers), its model
        already checked to make features like ``identity``. With ``frames`` (the
        frame attributes a run was trained on), the clips' frame tokens are cached too, in
        that run's ``frame_dtype``.
        """
        clips = clips.drop_duplicates("key")
        located = self.locate(embedder, identity, clips["key"], frames)
        missing = clips[~clips["key"].isin(located)]
        self._warn_damaged(missing, embedder)
        if missing.empty:
            return 0
        runner = engine()
        made = identity_of(runner.describe(window_s, hop_s).attrs)
        current = set(zip(clips["key"], clips["file"]))  # each key checked against its file's bytes just now
        remaining = set(missing["key"])
        run: dict[str, Any] = dict(window_s=window_s, hop_s=hop_s, progress=progress)
        if frames is not None:
            run |= dict(frames=True, frame_dtype=frames.get("frame_dtype", "float16"))
        for shard in self.shards():  # resume unfinished shards where that embeds only clips checked now
            try:
                blocks = _resumable_blocks(shard, embedder, made, current, remaining, frames)
            except Exception as error:  # noqa: BLE001 - a damaged shard is not completed
                self._skip(Path(shard.path), error)
                continue
            if blocks is not None and blocks.any():
                embed_with(runner, shard, only=blocks, repair=False, **run)
                remaining -= set(shard.items()["id"].to_numpy()[blocks])
        rest = missing[missing["key"].isin(remaining)]
        if len(rest):
            shard = self._new_shard(rest)
            embed_with(runner, shard, repair=False, **run)
        self._intact.clear()
        return len(missing)

    def _warn_damaged(self, clips: pd.DataFrame, embedder: str) -> None:
        """Name, by their paths, the clips whose cached rows were damaged (they are embedded again)."""
        damaged = clips[clips["key"].isin(self.damaged)]
        if damaged.empty:
            return
        shards = sorted({str(self.damaged[k]) for k in damaged["key"]})
        warnings.warn(
            f"{len(damaged)} clip(s) cached for {embedder} failed their checksum (a damaged cache, or one written by an older "
            f"clapmos) and are embedded again:\n{listing(damaged['file'])}\nTo free the space, delete {', '.join(shards)}.",
            stacklevel=3,
        )
        for key in damaged["key"]:
            self.damaged.pop(key, None)

    def _new_shard(self, clips: pd.DataFrame) -> FeatureStore:
        """A new shard holding ``clips``, built under a hidden name and renamed when its items are written."""
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.zarr"
        items = pd.DataFrame({
            "id": clips["key"].to_numpy(), "path": clips["file"].to_numpy(), "text": clips["text"].to_numpy(),
            "system": "", "split": SHARD_SPLIT,
        }).reset_index(drop=True)
        corpus = Corpus("score-cache", items, pd.DataFrame(index=items.index), pd.DataFrame(columns=["item", "listener"]), [], str(self.folder))
        segments = clips[["start_s", "end_s"]].notna().any().any()
        if is_url(self.folder):  # no rename on object storage: written in place, listed when its ownership record is gone
            from clapmos.embed.store.replacement import _write_new_store

            final = join(str(self.folder), "shards", name)
            begin_writing(final)
            store = FeatureStore(_write_new_store(FeatureStore, final, corpus), final)  # type: ignore[arg-type]
            if segments:
                store.write_segments(clips["start_s"].to_numpy(), clips["end_s"].to_numpy())
            end_writing(final)
            return FeatureStore.open(final, mode="r+")
        building = self.folder / "shards" / f".building-{name}"
        store = FeatureStore.create(building, corpus)
        if segments:
            store.write_segments(clips["start_s"].to_numpy(), clips["end_s"].to_numpy())
        final = building.with_name(name)
        building.rename(final)
        return FeatureStore.open(final, mode="r+")


def _intact(shard: FeatureStore, embedder: str, rows: np.ndarray, frames: bool) -> np.ndarray:
    """Which ``rows`` read back as written, by their checksums (rows of a shard without them are not intact: embedded again)."""
    if not len(rows) or not shard.sealed(embedder, frames):
        return np.zeros(len(rows), dtype=bool)
    return ~np.isin(rows, shard.damaged_rows(embedder, rows, frames=frames))


def _made_like(shard: FeatureStore, embedder: str, identity: dict[str, Any]) -> bool:
    """Whether ``shard`` has ``embedder`` features made like ``identity`` (compared on the attributes both record)."""
    if embedder not in shard.embedders:
        return False
    attrs = shard.embedder_attrs(embedder)
    theirs = identity_of(attrs)
    return attrs.get("embedder") == embedder and all(theirs[k] == v for k, v in identity.items() if k in theirs)


def _frames_like(shard: FeatureStore, embedder: str, frames: dict[str, Any]) -> bool:
    """Whether ``shard`` has frame tokens of ``embedder`` made like ``frames`` (width, rate, what a token is)."""
    if not shard.has_frames(embedder):
        return False
    attrs = shard.frame_attrs(embedder)
    return all(attrs.get(k) == frames.get(k) for k in FRAME_IDENTITY_ATTRS)


def _resumable_blocks(
    shard: FeatureStore,
    embedder: str,
    made: dict[str, Any],
    current: set[tuple[str, str]],
    remaining: set[str],
    frames: dict[str, Any] | None = None,
) -> np.ndarray | None:
    """Rows of the unfinished blocks of ``shard`` worth completing now, as a mask (``None``: made by another model).

    A block is completed when it holds a clip still ``remaining`` and every unfinished row
    in it is a clip of this run (its ``(key, file)`` pair is in ``current``): a row is
    never embedded from a file whose bytes were not just checked against its key. With
    ``frames``, a shard is completed only when every one of its clips is in this run (its
    token layout is made from all its files' headers) and its frames, if laid out, are
    made like ``frames``.
    """
    items = shard.items()
    checked = np.array([pair in current for pair in zip(items["id"], items["path"])], dtype=bool)
    if frames is not None:
        laid_out = embedder in shard.embedders and shard.has_frames(embedder)
        if not checked.all() or (laid_out and not _frames_like(shard, embedder, frames)):
            return None
    if embedder in shard.embedders:
        theirs = identity_of(shard.embedder_attrs(embedder))
        if any(theirs.get(k) != v for k, v in made.items()):
            return None
        pending = ~shard.done(embedder) | (~shard.frames_done(embedder) if frames is not None else False)
        step = shard.chunk_rows(embedder)
    else:
        pending, step = np.ones(len(shard), dtype=bool), len(shard)  # no features yet: all or nothing
    wanted = items["id"].isin(remaining).to_numpy()
    chosen = np.zeros(len(shard), dtype=bool)
    for start in range(0, len(shard), step):
        block = slice(start, start + step)
        if (pending[block] & wanted[block]).any() and (checked[block] | ~pending[block]).all():
            chosen[block] = pending[block]
    return chosen
