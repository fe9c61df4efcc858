"""The one embed sequence both engines run: describe the model, lay out the store, find what is pending, embed it, finish.

An *engine* is where the model runs: :class:`clapmos.embed.engines.runner.SerialEngine` (this
process) or :class:`clapmos.embed.engines.distributed.DaskEngine` (Dask workers). It knows two
things, :meth:`Engine.describe` (the loaded model's windows, dimensions and provenance) and
:meth:`Engine.embed` (embed and write the given blocks of rows, advancing the progress bar).
Everything else is done here, once for both, in this order:

1. ``prepare_features`` (the features group, or a new one built beside it with ``overwrite``);
2. with ``frames``, the frame-token layout;
3. with ``repair``, written rows that fail their checksums marked pending (named in a warning);
   then the pending chunk-aligned blocks (``only``: those holding a marked row);
4. every pending audio file checked, all bad ones named in one error before any work;
5. the engine embeds the blocks, each row with its segment when the store has segments;
6. ``finish_features`` (swaps an overwrite in).

So ``embed`` and ``score`` run the same steps on either engine, and a store left unfinished
by one engine is finished by the other.

>>> work = Work(key="spectral", blocks=[(0, 64)], paths=np.array(["a.wav"] * 64), texts=np.array([""] * 64),
...             segments=None, window_s=10.0, hop_s=10.0, frames=False)
>>> work.rows
64
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from clapmos.embed.audio import check_audio_files
from clapmos.embed.backends import Embedder
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Described:
    """What only the loaded model knows: provenance attributes, dimensions, resolved windows."""

    attrs: dict[str, Any]
    audio_dim: int
    text_dim: int
    window_s: float
    hop_s: float


@dataclass(frozen=True)
class Work:
    """The blocks of rows an engine embeds into features group ``key``, with the store's rows' inputs.

    ``paths``, ``texts`` and ``segments`` (``(start_s, end_s)`` arrays, NaN for an open bound,
    or ``None``) cover every row of the store; ``blocks`` are ``(start, stop)`` row ranges.
    """

    key: str
    blocks: list[tuple[int, int]]
    paths: np.ndarray
    texts: np.ndarray
    segments: tuple[np.ndarray, np.ndarray] | None
    window_s: float
    hop_s: float
    frames: bool
    written: Callable[[FeatureStore, int, int], None] | None = None  # called (store, start, stop) where rows were written

    @property
    def rows(self) -> int:
        return sum(b - a for a, b in self.blocks)

    def segments_of(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The segments of rows ``start:stop`` (``None`` when the store has none)."""
        return None if self.segments is None else (self.segments[0][start:stop], self.segments[1][start:stop])


class Engine(Protocol):
    """Where the model runs (see the module docstring)."""

    model: Embedder
    workers: int

    def describe(self, window_s: float | None, hop_s: float | None) -> Described: ...

    def embed(self, store: FeatureStore, work: Work, advance: Callable[[int], None]) -> None: ...


def embed_with(
    engine: Engine,
    store: FeatureStore,
    window_s: float | None = None,
    hop_s: float | None = None,
    overwrite: bool = False,
    progress: bool = True,
    only: np.ndarray | None = None,
    frames: bool = False,
    frame_dtype: str = "float16",
    written: Callable[[FeatureStore, int, int], None] | None = None,
    repair: bool = True,
) -> None:
    """Embed every row of ``store`` not yet done, on ``engine``: the steps of the module docstring.

    The arguments are those of :func:`clapmos.embed.engines.runner.embed_corpus`. With ``repair``,
    written rows that do not read back as written (a damaged chunk, found by their checksums) are
    embedded again, named in a warning (the ``score`` cache embeds such clips into a new shard instead).
    """
    from clapmos.embed.engines.frame_plan import prepare_frame_layout

    model = engine.model
    refuse_dropping_frames(store, model.name, overwrite, frames)
    described = engine.describe(window_s, hop_s)
    window_s, hop_s = described.window_s, described.hop_s
    key = store.prepare_features(model.name, described.audio_dim, described.text_dim, described.attrs, overwrite=overwrite)
    if frames:
        prepare_frame_layout(store, key, model, window_s, hop_s, frame_dtype, workers=engine.workers)
    if written is not None and hasattr(written, "prepare"):
        written.prepare(store)  # e.g. the cache's digest arrays, made here once, before any worker writes
    if repair and key == model.name:
        _repair(store, key, frames)
    blocks = store.pending_blocks(key, frames=frames)
    if only is not None:
        blocks = [(a, b) for a, b in blocks if only[a:b].any()]
    if blocks:
        items = store.items()
        work = Work(key, blocks, items["path"].to_numpy(), items["text"].to_numpy(), store.segments(), window_s, hop_s, frames,
                    written)
        rows = np.concatenate([np.arange(a, b) for a, b in blocks])
        check_audio_files(work.paths[rows].tolist(), workers=max(4, engine.workers))
        total = len(store) if only is None else len(rows)
        with EmbedProgress(progress, model.name, total=total, completed=total - len(rows)) as advance:
            engine.embed(store, work, advance)
    else:
        log.info("%s: every row of %s is already embedded", store.path, model.name)
    store.finish_features(model.name, key)


def _repair(store: FeatureStore, embedder: str, frames: bool) -> None:
    """Mark damaged rows (:func:`clapmos.embed.store.seals.unmark_damaged`) as pending, naming them."""
    import warnings

    from clapmos.embed.errors import listing
    from clapmos.embed.store.seals import unmark_damaged

    rows = unmark_damaged(store, embedder, frames)
    if len(rows):
        items = store.items().iloc[rows]
        warnings.warn(
            f"{store.path}: {len(rows)} clip(s) of {embedder} did not read back as written (a damaged chunk) and are embedded "
            f"again:\n{listing(f'{r.id}: {r.path}' for r in items.itertuples())}",
            stacklevel=3,
        )


def refuse_dropping_frames(store: FeatureStore, name: str, overwrite: bool, frames: bool) -> None:
    """Refuse an ``overwrite`` without ``frames`` of features that have frame tokens (they would be dropped)."""
    if overwrite and not frames and name in store.embedders and store.has_frames(name):
        raise ClapmosError(
            f"{store.path}: the {name} features have frame tokens, which --overwrite without --frames would drop "
            "(the attn_mlp and xattn heads read them). Add --frames to make them again with the new settings; the store is left as it is."
        )


class EmbedProgress:
    """A rich progress bar (clips, clips/s, time left); silent when ``enabled`` is false."""

    def __init__(self, enabled: bool, name: str, total: int, completed: int) -> None:
        self.bar = (
            Progress(
                TextColumn(f"embedding with {name}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} clips/s"),
                TimeElapsedColumn(),
                TextColumn("elapsed,"),
                TimeRemainingColumn(),
                TextColumn("left"),
                transient=False,
            )
            if enabled
            else None
        )
        self.total, self.completed = total, completed

    def __enter__(self) -> Callable[[int], None]:
        if self.bar is None:
            return lambda n: None
        self.bar.start()
        task = self.bar.add_task("embed", total=self.total, completed=self.completed, rate="–")

        def advance(n: int) -> None:
            self.bar.advance(task, n)
            speed = self.bar.tasks[task].speed
            self.bar.update(task, rate=f"{speed:.1f}" if speed else "–")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
