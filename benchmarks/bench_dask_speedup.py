"""Speed-up of the Dask engine (a 2-worker LocalCluster) over the serial engine, on ``spectral``.

Writes a few thousand short generated clips into a temporary folder, embeds them once
with each engine, checks that the two stores hold identical arrays, and rewrites the
``dask_speedup`` section of BENCHMARKS.md. The Dask engine is timed twice: end to end
(starting and closing its LocalCluster, as ``--engine dask`` does) and on a cluster
already running whose workers have embedded once before (as with ``--scheduler``).

    python benchmarks/bench_dask_speedup.py [--clips 3000] [--seconds 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from distributed import LocalCluster

from _report import machine_line, write_section
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.engines.distributed import embed_corpus_dask
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore

SAMPLE_RATE = 16000


def write_clips(folder: Path, n: int, seconds: float, seed: int = 0) -> Corpus:
    """``n`` noisy tones of ``seconds`` s at 16 kHz as 16-bit wav files, in an unrated corpus."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    paths = []
    for i in range(n):
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) + 0.05 * rng.standard_normal(len(t))
        paths.append(str(folder / f"clip{i:05d}.wav"))
        sf.write(paths[-1], tone.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    items = pd.DataFrame(
        {"id": [f"clip{i:05d}" for i in range(n)], "path": paths, "text": [f"prompt {i % 50}" for i in range(n)],
         "system": [f"S{i % 10}" for i in range(n)], "split": "test"}
    )
    return Corpus("manifest", items, pd.DataFrame(index=range(n)), pd.DataFrame(columns=["item", "listener"]), [])


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        corpus = write_clips(folder, args.clips, args.seconds)
        stores = {name: FeatureStore.create(folder / f"{name}.zarr", corpus) for name in ("serial", "dask", "running")}
        load = os.getloadavg()[0]
        serial = timed(lambda: embed_corpus(stores["serial"], "spectral", progress=False))
        dask = timed(lambda: embed_corpus_dask(stores["dask"], "spectral", n_workers=2, progress=False))
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, silence_logs=logging.ERROR) as cluster:
            warm_up = FeatureStore.create(folder / "warm-up.zarr", write_clips(folder / "warm-up", 256, args.seconds, seed=1))
            embed_corpus_dask(warm_up, "spectral", scheduler=cluster.scheduler_address, progress=False)
            running = timed(lambda: embed_corpus_dask(stores["running"], "spectral", scheduler=cluster.scheduler_address, progress=False))
        load = max(load, os.getloadavg()[0])
        reference = stores["serial"].paired("spectral")
        identical = all(np.array_equal(FeatureStore.open(s.path).paired("spectral"), reference) for s in stores.values())
    n = args.clips
    markdown = f"""## Dask engine: 2-worker LocalCluster vs serial (`spectral`)

{n} generated clips of {args.seconds:g} s at 16 kHz (16-bit wav, already in the page cache), one run of each
engine: the serial engine with its 2 reader threads; 2 single-threaded Dask worker processes with 2 reader
threads each. Stores identical across the three runs: **{"yes" if identical else "NO"}**.

| engine | time (s) | clips/s | speed-up over serial |
|---|---:|---:|---:|
| serial (`--engine local`) | {serial:.1f} | {n / serial:.0f} | 1.00 |
| Dask, end to end (`--engine dask --n-workers 2`: cluster start, imports and model load included) | {dask:.1f} | {n / dask:.0f} | {serial / dask:.2f} |
| Dask, on a running 2-worker cluster that has embedded before (`--scheduler`) | {running:.1f} | {n / running:.0f} | {serial / running:.2f} |

`spectral` costs a few milliseconds per clip, so starting worker processes, importing, reading files,
zarr writes and scheduling weigh as much as the model; and the 2 cores were shared with other jobs
(load average up to {load:.1f} during the run), which caps what a second worker can add. With a model
that dominates the cost (CLAP or M2D, one GPU per worker) these fixed costs are amortised; that case
is not measured here. Machine: {machine_line()}.
"""
    write_section("dask_speedup", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
