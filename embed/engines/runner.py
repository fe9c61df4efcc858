"""Run an embedder over a store's items and write the features, resumably.

The work is cut into chunk-aligned blocks of rows (see :meth:`FeatureStore.pending_blocks`).
Reader threads decode and resample the next clips while the model embeds the current
ones; windows of several clips are batched into one forward pass; each block is
written data first, ``done`` mask last. Rerunning the same command skips finished
blocks, so a run killed at any point (SIGKILL included) resumes where it stopped.
With ``frames=True`` every block also carries its clips' frame tokens (the windows'
tokens joined into one sequence per clip), laid out in the store beforehand.

>>> import tempfile, numpy as np, pandas as pd, soundfile as sf
>>> from clapmos.embed.corpora.table import Corpus
>>> from clapmos.embed.store import FeatureStore
>>> d = tempfile.mkdtemp(); sf.write(f"{d}/a.wav", np.zeros(8000, np.float32), 16000)
>>> items = pd.DataFrame({"id": ["a"], "path": [f"{d}/a.wav"], "text": ["hum"], "system": [""], "split": ["train"]})
>>> corpus = Corpus("manifest", items, pd.DataFrame(index=[0]), pd.DataFrame(columns=["item", "listener"]), [])
>>> store = FeatureStore.create(f"{d}/s.zarr", corpus)
>>> embed_corpus(store, "spectral", progress=False)
>>> store.audio("spectral").shape
(1, 128)
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from clapmos.embed.audio import stream_windows
from clapmos.embed.backends import Embedder, create_embedder
from clapmos.embed.backends.contract import checked_vectors, load_embedder
from clapmos.embed.backends.plugins import plugin_provenance, plugin_spec
from clapmos.embed.errors import ClapmosError
from clapmos.embed.engines.sequence import Described, Work, embed_with, refuse_dropping_frames
from clapmos.embed.store.frames import Frames
from clapmos.embed.store import FeatureStore
from clapmos.embed.threads import limit_threads

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
MIN_SECONDS = 0.01  # the shortest window or hop: shorter ones are a typo, and would cut millions of windows
VERSIONED_PACKAGES = ("clapmos", "numpy", "torch", "soundfile", "soxr", "zarr", "laion-clap", "transformers")


def embed_corpus(
    store: FeatureStore,
    embedder: str | Embedder,
    options: dict[str, Any] | None = None,
    window_s: float | None = None,
    hop_s: float | None = None,
    workers: int = 2,
    overwrite: bool = False,
    progress: bool = True,
    only: np.ndarray | None = None,
    threads: int | None = None,
    frames: bool = False,
    frame_dtype: str = "float16",
    written: Callable[[FeatureStore, int, int], None] | None = None,
) -> None:
    """Embed every row of ``store`` not yet done with ``embedder`` (a name or a loaded instance), in this process.

    The model is loaded (and a bad checkpoint or a plugin breaking the contract
    refused) before any audio is read; windows are resolved after loading, since some
    depend on the model (Whisper's 30 s). Then every pending audio file is checked,
    and all unusable files are reported in one error before any work starts. ``only``
    (a boolean mask of rows) restricts the work to the pending blocks that hold a marked row.
    ``threads`` caps the model's CPU threads (torch, BLAS; see :mod:`clapmos.embed.threads`); the
    reader threads are ``workers``. With ``frames``, the clips' frame tokens are stored
    too (``frame_dtype`` on disk), and rows written before without them are redone. ``overwrite``
    without ``frames`` is refused when the features have frame tokens (they would be dropped).
    ``written(store, start, stop)`` is called after each block of rows is written (the score cache seals them).
    The steps are those of :func:`clapmos.embed.engines.sequence.embed_with`, which the Dask engine runs too.
    """
    from clapmos.embed.engines.frame_plan import require_frames

    model = embedder if isinstance(embedder, Embedder) else create_embedder(embedder, **(options or {}))
    if frames:
        require_frames(model)
    refuse_dropping_frames(store, model.name, overwrite, frames)  # before the model loads
    load_embedder(model)
    embed_with(SerialEngine(model, workers, threads), store, window_s, hop_s, overwrite=overwrite, progress=progress,
               only=only, frames=frames, frame_dtype=frame_dtype, written=written)


class SerialEngine:
    """The engine of this process (see :mod:`clapmos.embed.engines.sequence`): the loaded ``model``,
    ``workers`` reader threads, the model's CPU threads capped at ``threads``."""

    def __init__(self, model: Embedder, workers: int = 2, threads: int | None = None) -> None:
        self.model, self.workers, self.threads = model, workers, threads

    def describe(self, window_s: float | None, hop_s: float | None) -> Described:
        window_s, hop_s = resolve_windows(self.model, window_s, hop_s)
        return Described(provenance(self.model, window_s, hop_s), self.model.audio_dim, self.model.text_dim, window_s, hop_s)

    def embed(self, store: FeatureStore, work: Work, advance: Callable[[int], None]) -> None:
        with limit_threads(self.threads):
            encoder = BlockEncoder(self.model, work.window_s, work.hop_s, self.workers, frames=work.frames)
            embed_blocks(store, encoder, work.blocks, work.paths, work.texts, advance=advance, key=work.key, segments=work.segments,
                         written=work.written)


def resolve_windows(model: Embedder, window_s: float | None, hop_s: float | None) -> tuple[float, float]:
    """Window and hop in seconds: the (loaded) embedder's defaults, and a hop equal to a custom window.

    >>> from clapmos.embed.backends import create_embedder
    >>> resolve_windows(create_embedder("spectral"), 4.0, None)
    (4.0, 4.0)
    >>> resolve_windows(create_embedder("spectral"), 0.0, None)
    Traceback (most recent call last):
    clapmos.embed.errors.ClapmosError: --window-s 0.0: a window must be longer than 0 seconds.
    """
    for option, value in (("--window-s", window_s), ("--hop-s", hop_s)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ClapmosError(f"{option} {value}: a {option[2:-2]} must be longer than 0 seconds.")
        if value is not None and value < MIN_SECONDS:
            raise ClapmosError(f"{option} {value:g}: a {option[2:-2]} must be at least {MIN_SECONDS:g} s (10 ms).")
    window = float(model.window_s if window_s is None else window_s)
    longest = getattr(model, "max_window_s", None)
    if longest is not None and window > longest + 1e-9:
        raise ClapmosError(f"--window-s {window:g}: {model.name} takes windows of at most {longest:g} s; pass --window-s {longest:g} or less.")
    hop = hop_s if hop_s is not None else (window if window != model.window_s else model.hop_s)
    return window, float(hop)


def embed_blocks(
    store: FeatureStore,
    encoder: BlockEncoder,
    blocks: list[tuple[int, int]],
    paths: np.ndarray,
    texts: np.ndarray,
    first_row: int = 0,
    advance: Callable[[int], None] | None = None,
    segments: tuple[np.ndarray, np.ndarray] | None = None,
    key: str | None = None,
    written: Callable[[FeatureStore, int, int], None] | None = None,
) -> None:
    """Embed the rows of ``blocks`` and write each block to ``store``, data first, ``done`` last.

    ``paths[i]`` and ``texts[i]`` belong to row ``first_row + i``: the whole corpus for
    the serial engine, one range of rows for a distributed task. The windows of each
    block are batched the same way whoever calls this, so a block always gets the same
    numbers. ``advance(rows)`` is called after each block is written. ``segments``, when
    given, are the ``(start_s, end_s)`` arrays of the same rows (see :meth:`FeatureStore.segments`).
    ``key`` is the features group to write (see :meth:`FeatureStore.prepare_features`;
    default: the embedder's own). ``written(store, start, stop)`` is called after each block is written.
    """
    local = [(start - first_row, stop - first_row) for start, stop in blocks]
    for (a, b), (audio, frames) in zip(local, encoder.audio_blocks(np.asarray(paths), local, segments)):
        text = encoder.text(np.asarray(texts)[a:b].tolist()) if encoder.model.text_dim else None  # none when audio-only
        store.write_block(key or encoder.model.name, first_row + a, audio, text, frames=frames)
        if written is not None:
            written(store, first_row + a, first_row + b)
        if advance is not None:
            advance(b - a)


def provenance(model: Embedder, window_s: float, hop_s: float) -> dict[str, Any]:
    """Attributes recorded under ``features/<embedder>``: what made these numbers."""
    versions = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {
        "embedder": model.name,
        "sample_rate": model.sample_rate,
        "window_s": window_s,
        "hop_s": hop_s,
        "pooling": "mean, L2-normalised" if model.normalize else "mean",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions,
        "backend": plugin_spec(type(model)) or type(model).name,
        "load_options": {key: _recordable(value) for key, value in model.options.items() if value is not None},
        **model.provenance(),
        **plugin_provenance(type(model)),
    }


def _recordable(value: Any) -> Any:
    """An embedder option as JSON: paths absolute, so that a run can rebuild its embedder (``score``)."""
    if isinstance(value, Path):
        return str(value.expanduser().resolve())
    return value if isinstance(value, (str, int, float, bool)) else str(value)


class BlockEncoder:
    """Turns blocks of audio files into pooled clip vectors (and frame tokens), reading ahead in threads."""

    def __init__(self, model: Embedder, window_s: float, hop_s: float, workers: int, frames: bool = False) -> None:
        self.model = model
        self.window_s = window_s
        self.hop_s = hop_s
        self.workers = max(1, workers)
        self.frames = frames

    def windows(self, path: str, start_s: float | None = None, end_s: float | None = None) -> list[np.ndarray]:
        """The prepared windows of one clip, cut as its file is decoded block by block (never held whole)."""
        return [self.model.prepare_window(w) for w in stream_windows(path, self.model.sample_rate, self.window_s, self.hop_s, start_s, end_s)]

    def audio_blocks(
        self, paths: np.ndarray, blocks: list[tuple[int, int]], segments: tuple[np.ndarray, np.ndarray] | None = None
    ) -> Iterator[tuple[np.ndarray, Frames | None]]:
        """Yield, per block, the ``(rows, audio_dim)`` pooled audio embeddings (of each row's segment, if given) and the clips' frame tokens (or None)."""
        ordered = ((str(paths[i]), *_segment(segments, i)) for a, b in blocks for i in range(a, b))
        depth = max(2 * self.model.batch_size, 4 * self.workers)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="clapmos-reader") as pool:
            # clips read ahead are bounded in windows too, so that full-length songs do not pile up in memory
            clips = read_ahead(pool, lambda clip: self.windows(*clip), ordered, depth=depth, budget=max(depth, 4 * self.model.batch_size), cost=len)
            for start, stop in blocks:
                yield self.pool_clips(next(clips) for _ in range(start, stop))

    def pool_clips(self, clips: Iterable[list[np.ndarray]]) -> tuple[np.ndarray, Frames | None]:
        """Embed the windows of several clips in batches and average them per clip; join their frame tokens.

        Clips are consumed one at a time and each batch is embedded as soon as it is full, so only
        one batch of windows (and the clip being cut) is held, however long the clips: a block of
        full-length songs needs no more memory than a block of short clips. The batches are the
        same as cutting the block's windows in one list, so the vectors are too.
        """
        size = max(1, self.model.batch_size)
        pending: list[np.ndarray] = []
        parts: list[np.ndarray] = []
        tokens: list[np.ndarray] = []
        counts: list[int] = []

        def flush() -> None:
            if self.frames:
                vectors, batch_tokens = self.model.embed_frames(pending)
                tokens.extend(batch_tokens)
            else:
                vectors = self.model.embed_audio(pending)
            parts.append(checked_vectors(self.model, vectors, len(pending), "audio", finite=False))
            pending.clear()

        for windows in clips:
            counts.append(len(windows))
            for window in windows:
                pending.append(window)
                if len(pending) == size:
                    flush()
            del windows  # the clip's audio goes once its last window is embedded
        if pending:
            flush()
        vectors = np.concatenate(parts)
        owner = np.repeat(np.arange(len(counts)), counts)
        pooled = np.zeros((len(counts), vectors.shape[1]), dtype=np.float64)
        np.add.at(pooled, owner, vectors)
        pooled /= np.bincount(owner, minlength=len(counts))[:, None]
        if self.model.normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32), (self._clip_frames(counts, tokens) if self.frames else None)

    def _clip_frames(self, counts: list[int], tokens: list[np.ndarray]) -> Frames:
        """One token sequence per clip (its windows' tokens in order), each token stamped with its start time."""
        sequences, times, k = [], [], 0
        for n_windows in counts:
            mine = tokens[k : k + n_windows]
            k += n_windows
            sequences.append(np.concatenate(mine))
            times.append(np.concatenate([w * self.hop_s + np.arange(len(t)) / self.model.frame_rate for w, t in enumerate(mine)]))
        return Frames.from_list(sequences, times)

    def text(self, texts: list[str]) -> np.ndarray:
        """Embed texts once each (prompts repeat across systems) and spread them back."""
        unique, inverse = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)
        size = max(1, self.model.batch_size)
        batches = [unique[i : i + size].tolist() for i in range(0, len(unique), size)]
        vectors = np.concatenate([checked_vectors(self.model, self.model.embed_text(batch), len(batch), "text", finite=False) for batch in batches])
        return vectors[inverse.ravel()].astype(np.float32)


def _segment(segments: tuple[np.ndarray, np.ndarray] | None, row: int) -> tuple[float | None, float | None]:
    """Row ``row``'s ``(start_s, end_s)``, ``None`` for a bound that is not set (NaN) or no segments at all."""
    if segments is None:
        return None, None
    return tuple(None if np.isnan(bound[row]) else float(bound[row]) for bound in segments)


_END = object()  # the end of read_ahead's items


def read_ahead(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], depth: int,
    budget: int | None = None, cost: Callable[[R], int] | None = None,
) -> Iterator[R]:
    """``map(fn, items)`` in ``pool``, in order, keeping at most ``depth`` results in flight.

    With ``budget``, no new item is started while the results already done and waiting weigh
    ``budget`` or more by ``cost`` (e.g. the windows of the clips read ahead); one item is always
    in flight, so the iteration goes on whatever the weights.
    """
    iterator = iter(items)
    pending: deque[Future[R]] = deque()

    def refill() -> None:
        while len(pending) < depth:
            if budget is not None and pending and sum(cost(f.result()) for f in pending if f.done()) >= budget:
                return
            item = next(iterator, _END)
            if item is _END:
                return
            pending.append(pool.submit(fn, item))

    refill()
    while pending:
        result = pending.popleft().result()
        refill()
        yield result
