"""`clapmos fit --threads 1` against `--threads 2` on a 2-core machine, as it is and with two busy processes beside it.

The MusicEval-sized synthetic store of ``bench_fit_cv.py`` (2,335 items × 1,024 features, two
targets, listener ratings); the `spo_mlp` head (a torch MLP) and `lgbm`, `--cv 5`, 40 epochs at
most, no plots; each fit a fresh process of the real command, ``ROUNDS`` rounds with the settings
interleaved, every time reported (the machine is shared: the spread is the finding). "Busy"
starts two CPU-bound processes (a pure Python loop each) for the duration of the fit, as other
jobs on a shared machine would. A fit that takes longer than ``LIMIT_S`` is stopped and reported
as such. This is why the test suite and CI set `CLAPMOS_THREADS=1` on the shared machines.

    python benchmarks/bench_threads.py        # writes the "threads" section of BENCHMARKS.md
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import ROOT, machine_line, write_section  # noqa: E402
from bench_fit_cv import synthetic_store  # noqa: E402

ROUNDS = 2
LIMIT_S = 240
HEADS = {"spo_mlp": ["--param", "spo_mlp.max_epochs=40"], "lgbm": []}
BUSY = "while True: pass"


def fit_seconds(store: Path, out: Path, head: str, threads: int, busy: bool) -> float | None:
    """Wall time of one `fit` process (``None`` if it ran past ``LIMIT_S``)."""
    command = [sys.executable, str(ROOT / "cli.py"), "fit", "--store", str(store), "--embedder", "synthetic", "--head", head,
               "--cv", "5", "--no-plots", "--threads", str(threads), "--out", str(out), *HEADS[head]]
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2 if busy else 0)]
    try:
        start = time.perf_counter()
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=LIMIT_S)
        except subprocess.TimeoutExpired:
            return None
        return time.perf_counter() - start
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def shown(times: list[float | None]) -> str:
    return ", ".join(f">{LIMIT_S}" if t is None else f"{t:.1f}" for t in times)


def main() -> None:
    import os

    loads = [os.getloadavg()[0]]
    results: dict[tuple[str, bool, int], list[float | None]] = {}
    with tempfile.TemporaryDirectory(prefix="clapmos-threads-") as tmp:
        store = Path(tmp) / "store.zarr"
        synthetic_store(store, n=2335, dim=512, targets=["overall", "textual"], scale=(1, 5), raters=5, pool=14, systems=31, seed=0)
        for _ in range(ROUNDS):
            for head in HEADS:
                for busy in (False, True):
                    for threads in (1, 2):
                        seconds = fit_seconds(store, Path(tmp) / "run", head, threads, busy)
                        results.setdefault((head, busy, threads), []).append(seconds)
                        print(head, "busy" if busy else "as is", threads, seconds, flush=True)
                        loads.append(os.getloadavg()[0])
    rows = []
    for (head, busy, threads), times in results.items():
        finished = [t for t in times if t is not None]
        median = f"{statistics.median(finished):.1f}" if len(finished) == len(times) else f">{LIMIT_S}"
        rows.append(f"| `{head}` | {'+ 2 busy processes' if busy else 'as is'} | {threads} | {median} | {shown(times)} |")
    write_section(
        "threads",
        f"""
## Threads: `fit --threads 1` vs `--threads 2` (`benchmarks/bench_threads.py`)

MusicEval-sized synthetic store (2,335 × 1,024, two targets), `fit --cv 5 --no-plots` in a fresh process;
`spo_mlp` with at most 40 epochs, `lgbm` with its defaults. "as is": the shared machine as it was during
the run (1-minute load average {min(loads):.1f}–{max(loads):.1f} between fits: other jobs); "+ 2 busy
processes": two CPU-bound processes started beside the fit. {ROUNDS} rounds, settings interleaved; fits
stopped after {LIMIT_S} s.

| head | machine | `--threads` | median (s) | every run (s) |
|---|---|---:|---:|---|
{chr(10).join(rows)}

With other work on the cores, every two-thread fit stalled past the limit while one-thread fits
finished: on such a shared machine set `CLAPMOS_THREADS=1` (the test suite, `make test` and CI do).
The default of `--threads` (fit and embed) is every core the process may use (affinity and cgroup
quota), which serves a machine of one's own, where the cores are free.

Measured on {machine_line()}.
""",
    )


if __name__ == "__main__":
    main()
