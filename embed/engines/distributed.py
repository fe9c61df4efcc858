"""The Dask engine of the embed stage: the serial runner's blocks, spread over Dask workers.

This process is the coordinator. It starts a ``LocalCluster`` (or connects to a running
scheduler), has every worker load the embedder once (:class:`LoadedEmbedder`, a worker
plugin), and runs the same sequence as the serial engine (:mod:`clapmos.embed.engines.sequence`:
the store's arrays and attributes, the frame layout, the pending blocks, the audio check)
with a :class:`DaskEngine`, which submits one task per range of a few whole chunks of
pending rows. Each task opens the store by path, skips the chunks already done, embeds the
others (each row's segment, when the store has segments: score caches) with the serial
runner's :func:`clapmos.embed.engines.runner.embed_blocks` and writes them itself, data first and
``done`` last. The coordinator only counts rows for the progress bar. ``score --engine dask``
runs on it too (:class:`clapmos.evaluation.predictor.Predictor` with a Dask client).

Why this is safe to interrupt and to rerun anywhere:

* tasks write whole chunks, and zarr writes each chunk file atomically, so tasks never
  share a file and a killed worker leaves only complete chunks behind;
* a block gets the same numbers whichever engine or worker embeds it (same batches,
  same float operations), so a task that Dask re-runs after its worker died, or a
  later run with either engine, can only rewrite the values already there;
* the store's ``done`` mask is the only record of progress, so an interrupted run is
  finished by ``embed_corpus`` or ``embed_corpus_dask`` alike.

The provenance written to the store comes from a worker, not from this process: the
model is loaded where it runs (the coordinator needs no GPU and no copy of the
weights), and the attributes describe the model that made the numbers. So do the
dimensions and the default window, which only the loaded model knows for some
embedders (``hf-audio``). A plugin class from a file is re-imported from its path on
each worker (which must see it under the same path, like the audio).

>>> task_ranges([(0, 64), (64, 128), (128, 192), (256, 320), (320, 330)], chunks_per_task=2)
[(0, 128), (128, 192), (256, 330)]
>>> embed_corpus_dask(store, "spectral", n_workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from clapmos.embed.backends import Embedder, create_embedder
from clapmos.embed.backends.contract import load_embedder
from clapmos.embed.backends.plugins import plugin_spec
from clapmos.embed.errors import ClapmosError
from clapmos.embed.filesystems import is_url
from clapmos.embed.engines.runner import BlockEncoder, embed_blocks, provenance, resolve_windows
from clapmos.embed.engines.sequence import Described, Work, embed_with
from clapmos.embed.store import FeatureStore

try:
    from distributed import Client, Future, KilledWorker, LocalCluster, WorkerPlugin, as_completed, get_worker
except ImportError:
    raise ClapmosError("the dask engine needs Dask distributed: pip install 'clapmos[dask]'") from None

log = logging.getLogger(__name__)
DEFAULT_N_WORKERS = 2
CHUNKS_PER_TASK = 4  # 256 rows per task with the store's 64-row chunks


def embed_corpus_dask(
    store: FeatureStore,
    embedder: str | Embedder,
    options: dict[str, Any] | None = None,
    window_s: float | None = None,
    hop_s: float | None = None,
    workers: int = 2,
    overwrite: bool = False,
    progress: bool = True,
    scheduler: str | None = None,
    n_workers: int | None = None,
    chunks_per_task: int = CHUNKS_PER_TASK,
    threads: int | None = None,
    frames: bool = False,
    frame_dtype: str = "float16",
) -> None:
    """Embed every row of ``store`` not yet done, on Dask workers; same result as ``embed_corpus``.

    Parameters
    ----------
    store, embedder, options, window_s, hop_s, overwrite, progress, frames, frame_dtype
        As in :func:`clapmos.embed.engines.runner.embed_corpus` (the frame tokens are laid out here, written by the workers). An :class:`Embedder` instance is sent
        to each worker as it is (pass a name for large models).
    workers : int
        Reader threads per Dask worker (decoding and resampling ahead of the model).
    scheduler : str, optional
        Address (``tcp://host:8786``) or scheduler file (JSON) of a running Dask
        scheduler. Without it a ``LocalCluster`` is started and closed again.
    n_workers : int, optional
        Worker processes of that ``LocalCluster`` (default 2); not with ``scheduler``.
    chunks_per_task : int
        Store chunks (of 64 rows) per task.
    threads : int, optional
        torch threads of each worker's model (default 1).

    The workers must see the store and the audio under the same paths as this process.
    """
    if scheduler is not None and n_workers is not None:
        raise ClapmosError("give --n-workers (to start a local cluster) or --scheduler (to use a running one), not both")
    from clapmos.embed.engines.frame_plan import require_frames

    model = embedder if isinstance(embedder, Embedder) else create_embedder(embedder, **(options or {}))
    if frames:
        require_frames(model)
    with dask_client(scheduler, n_workers) as client, DaskEngine(client, model, workers, threads, chunks_per_task) as engine:
        embed_with(engine, store, window_s, hop_s, overwrite=overwrite, progress=progress, frames=frames, frame_dtype=frame_dtype)


class DaskEngine:
    """The engine of Dask workers (see :mod:`clapmos.embed.engines.sequence`), on ``client``'s cluster.

    Used as a context manager: on entry every worker (present and future) loads ``model``
    (:class:`LoadedEmbedder`), on exit it drops it. ``workers`` are the reader threads of
    each Dask worker, ``threads`` its model's torch threads (default 1), and each task
    embeds at most ``chunks_per_task`` store chunks (fewer when there are too few to give
    every worker two tasks). Workers open the store by its path (or URL),
    and read the audio by absolute paths.
    """

    def __init__(self, client: Client, model: Embedder, workers: int = 2, threads: int | None = None,
                 chunks_per_task: int = CHUNKS_PER_TASK) -> None:
        self.client, self.model, self.workers = client, model, workers
        self.threads, self.chunks_per_task = threads or 1, chunks_per_task
        self.plugin: str | None = None
        self._registration: Any = None
        self._described: dict[tuple[float | None, float | None], Described] = {}

    def __enter__(self) -> "DaskEngine":
        self._registration = LoadedEmbedder.registered(self.client, self.model, self.threads)
        self.plugin = self._registration.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._registration.__exit__(*exc)

    def describe(self, window_s: float | None, hop_s: float | None) -> Described:
        """The model as loaded on a worker (asked once per window and hop)."""
        if (window_s, hop_s) not in self._described:
            loaded = _unwrap(self.client.submit(describe, self.plugin, window_s, hop_s, pure=False).result())
            self._described[window_s, hop_s] = Described(**loaded)
        return self._described[window_s, hop_s]

    def embed(self, store: FeatureStore, work: Work, advance: Callable[[int], None]) -> None:
        """One task per range of a few pending chunks; the progress bar advances as tasks finish."""
        # workers may run in another folder or on another node: send absolute paths
        paths = np.array([os.path.abspath(path) for path in work.paths], dtype=object)
        # small work (a score of a few hundred clips) is still spread: at least two tasks per worker when it has the blocks
        n_workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        per_task = max(1, min(self.chunks_per_task, len(work.blocks) // (2 * n_workers)))
        ranges = {
            self.client.submit(
                embed_range, self.plugin, store_location(store), work.key, start, stop, paths[start:stop], work.texts[start:stop],
                work.window_s, work.hop_s, self.workers, work.frames, work.segments_of(start, stop), work.written, pure=False,
            ): (start, stop)
            for start, stop in task_ranges(work.blocks, per_task)
        }
        _gather(self.client, ranges, advance)


def store_location(store: FeatureStore) -> str:
    """Where the workers open ``store``: its URL, or its absolute path."""
    return str(store.path) if is_url(store.path) else str(Path(store.path).resolve())


def task_ranges(blocks: list[tuple[int, int]], chunks_per_task: int) -> list[tuple[int, int]]:
    """Join runs of adjacent chunk-aligned ``blocks`` into ranges of at most ``chunks_per_task`` blocks."""
    ranges: list[list[int]] = []
    count = 0
    for start, stop in blocks:
        if ranges and ranges[-1][1] == start and count < chunks_per_task:
            ranges[-1][1] = stop
            count += 1
        else:
            ranges.append([start, stop])
            count = 1
    return [(start, stop) for start, stop in ranges]


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None) -> Iterator[Client]:
    """A client of ``scheduler`` (address or scheduler file), or of a new ``LocalCluster``.

    The local cluster has ``n_workers`` single-threaded worker processes (default 2),
    each with a nanny that restarts it if it dies, and is closed on exit.
    """
    if scheduler is None:
        with (
            _quiet_dask_logs(),
            LocalCluster(
                n_workers=n_workers or DEFAULT_N_WORKERS, threads_per_worker=1, processes=True, silence_logs=logging.ERROR
            ) as cluster,
            Client(cluster) as client,
        ):
            log.info("dask: local cluster of %d workers, dashboard %s", n_workers or DEFAULT_N_WORKERS, client.dashboard_link)
            yield client
        return
    where = {"scheduler_file": scheduler} if Path(scheduler).is_file() else {"address": scheduler}
    try:
        client = Client(**where, timeout="20s")
    except (OSError, TimeoutError, ValueError) as error:
        raise ClapmosError(
            f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({error}). "
            "Start the scheduler first, or leave out --scheduler to run a local cluster."
        ) from None
    with client:
        yield client


@contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Keep the in-process scheduler's info messages off the terminal, unless debug logging is on.

    (distributed leaves its records to the root logger's handler when the application
    has configured one, as ``cli.py`` does; ``silence_logs`` only reaches its own handlers.)
    """
    logger = logging.getLogger("distributed")
    old = logger.level
    if not log.isEnabledFor(logging.DEBUG):
        logger.setLevel(max(old, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(old)


class LoadedEmbedder(WorkerPlugin):
    """Worker plugin holding the embedder, loaded once when the plugin reaches the worker.

    Workers that join (or are restarted) later load it too before running a task. A
    load that fails is kept and raised by :meth:`loaded` in each task; a
    :class:`ClapmosError` (bad input) then goes back to the coordinator as a result,
    without a traceback in the worker's log.
    """

    def __init__(self, model: Embedder, torch_threads: int = 1) -> None:
        self.model = model
        self.torch_threads = torch_threads
        self.error: Exception | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        spec = plugin_spec(type(self.model))
        if spec is not None:  # a class from a user's file: the worker imports the file itself
            options = {"device": self.model.device, "batch_size": self.model.batch_size, "name": self.model.name, **self.model.options}
            state["model"] = (spec, options)
        return state

    def _rebuild(self) -> None:
        if isinstance(self.model, tuple):
            spec, options = self.model
            self.model = create_embedder(spec, **options)
        load_embedder(self.model)

    async def setup(self, worker: Any) -> None:
        try:
            # in a thread, so the worker keeps answering the scheduler during a long load
            await asyncio.to_thread(self._rebuild)
        except Exception as error:  # a worker joining later has nobody to raise it to: the tasks do
            self.error = error
        # The nanny already sets OMP_NUM_THREADS=1 for its worker; torch, when the model
        # uses it, is held to the same so N workers use N cores.
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(self.torch_threads)

    def teardown(self, worker: Any) -> None:
        self.model = None  # type: ignore[assignment]  # frees the weights on a shared cluster

    def loaded(self) -> Embedder:
        """The embedder, loaded; or the error its load raised."""
        if self.error is not None:
            raise self.error
        return self.model

    @classmethod
    @contextmanager
    def registered(cls, client: Client, model: Embedder, torch_threads: int = 1) -> Iterator[str]:
        """Register the plugin on every worker (present and future) for the ``with`` block; yields its name."""
        name = f"clapmos-{model.name}-{uuid.uuid4().hex[:8]}"  # runs sharing a cluster keep their own models
        client.register_plugin(cls(model, torch_threads), name=name)
        try:
            yield name
        finally:
            if client.status == "running":
                client.unregister_worker_plugin(name)


def describe(plugin: str, window_s: float | None, hop_s: float | None) -> dict[str, Any] | ClapmosError:
    """Task: the embedder loaded on this worker: its windows, dimensions and provenance attributes."""
    try:
        model = get_worker().plugins[plugin].loaded()
        window_s, hop_s = resolve_windows(model, window_s, hop_s)
        attrs = provenance(model, window_s, hop_s)
        return {"attrs": attrs, "window_s": window_s, "hop_s": hop_s, "audio_dim": model.audio_dim, "text_dim": model.text_dim}
    except ClapmosError as error:
        return error  # returned, not raised: a raised error is logged with its traceback by the worker


def embed_range(
    plugin: str,
    store_path: str,
    key: str,
    start: int,
    stop: int,
    paths: np.ndarray,
    texts: np.ndarray,
    window_s: float,
    hop_s: float,
    readers: int,
    frames: bool = False,
    segments: tuple[np.ndarray, np.ndarray] | None = None,
    written: Callable[[FeatureStore, int, int], None] | None = None,
) -> int | ClapmosError:
    """Task: embed and write the chunks of rows ``start:stop`` not done yet; returns how many rows it wrote.

    ``paths``, ``texts`` and ``segments`` (``None``: whole files) are those of rows ``start:stop``; ``key`` is the features group
    to write (the embedder's, or the one an ``--overwrite`` builds). Chunks already done (by
    an earlier attempt of this task, or another run) are skipped. ``written`` (picklable) is called after each
    block here, on the worker. Each block's rows are sealed as they are written (:mod:`clapmos.embed.store.seals`).
    """
    try:
        model = get_worker().plugins[plugin].loaded()
        store = FeatureStore.open(store_path, mode="r+")
        blocks = store.pending_blocks(key, start, stop, frames=frames)
        embed_blocks(store, BlockEncoder(model, window_s, hop_s, readers, frames), blocks, paths, texts, first_row=start, key=key,
                     segments=segments, written=written)
        return sum(b - a for a, b in blocks)
    except ClapmosError as error:
        return error


def _gather(client: Client, ranges: dict[Future, tuple[int, int]], advance: Callable[[int], None]) -> None:
    """Wait for the tasks, advancing the progress bar; on the first failure cancel the rest and raise."""
    try:
        for future in as_completed(ranges):
            advance(_unwrap(future.result()))
    except BaseException as error:
        client.cancel(list(ranges))
        if not isinstance(error, KilledWorker):
            raise
        start, stop = next((r for f, r in ranges.items() if f.key == error.task), ("?", "?"))
        raise ClapmosError(
            f"rows {start}:{stop} stopped {error.allowed_failures + 1} Dask workers in turn (out of memory, "
            "or a crash in the model?). The rows written so far are kept: look at the worker logs, "
            "then run the same command again."
        ) from None


def _unwrap(result: Any) -> Any:
    if isinstance(result, ClapmosError):
        raise result
    return result
