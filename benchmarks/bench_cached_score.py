"""A cached re-score of 600 clips with a ridge run: the whole ``clapmos score`` process, checksums included.

Setup: a demo corpus of ``CLIPS`` clips (``make-demo``, 16 kHz wav of 6 to 10 s), its store
(``spectral``), a 5-fold ``ridge`` run, and a ``score`` cache filled by one first ``score``.
Then ``clapmos score`` is run ``ROUNDS`` times as a new process on the same folder (every clip
read from the cache: each file hashed, each cached row's checksum verified, predicted, written).
Each run's wall time and CPU time (user + system) are recorded.
A child process times the phases of one such run: starting Python and importing the command,
importing the stages (pandas, zarr), loading the run (its files' sha256 and the ridge ensembles'
arrays, ``linear.npz``: neither scikit-learn nor skops is imported), and scoring (hashing the
files, checking headers, verifying the cache rows, predicting); and, apart, the verification of
the cache rows alone, and which of scikit-learn, skops and scipy the process imported.
Target (issue 19): at most 2 s for the whole process. Writes the ``cached_score`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, machine_line, run_child, write_section  # noqa: E402

CLIPS = 600
ROUNDS = 5
TARGET_S = 2.0

PREPARE = """
from pathlib import Path
from clapmos.embed.corpora import read_corpus
from clapmos.embed.corpora.demo import make_demo_corpus
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.run import RunConfig, fit_run, save_run
folder = Path({folder!r})
make_demo_corpus(folder / "corpus", n_clips={clips}, seed=0)
store = FeatureStore.create(folder / "store.zarr", read_corpus("musiceval", folder / "corpus"))
embed_corpus(store, "spectral", progress=False)
run = fit_run(store, RunConfig(embedders=["spectral"], heads=["ridge"], cv=5))
save_run(run, folder / "run")
import clapmos.heads.runs.linear_form as linear_form
linear_form.linear_form = lambda ensemble: None  # the same run as saved before the arrays existed: loaded through skops
save_run(run, folder / "run_skops")
_result = {{}}
"""

PHASES = """
import time, warnings
started = time.perf_counter()
from clapmos import cli
imported_cli = time.perf_counter()
from pathlib import Path
import numpy as np
from clapmos.embed.engines.score_inputs import read_score_inputs, unique_inputs
from clapmos.evaluation.predictor import Predictor
from clapmos.heads.runs.fitted import load_run
imported = time.perf_counter()
folder = Path({folder!r})
run = load_run(folder / "run")
loaded = time.perf_counter()
warnings.simplefilter("ignore")
predictor = Predictor.from_run(run, cache=folder / "cache")
table, _ = unique_inputs(read_score_inputs([folder / "corpus" / "wav"]))
result = predictor.score_inputs(table)
scored = time.perf_counter()
assert result.embedded == 0 and result.cached == {clips}
shards = predictor.cache.shards()
checking = time.perf_counter()
intact = all(s.sealed("spectral") and not len(s.damaged_rows("spectral", np.arange(len(s)))) for s in shards)
checked = time.perf_counter()
assert intact
import sys
_result = {{"imported": [m for m in ("sklearn", "skops", "scipy", "torch") if m in sys.modules], "cli import": imported_cli - started, "stage imports": imported - imported_cli, "load run": loaded - imported,
            "score (hash, headers, cache, predict)": scored - loaded, "cache checksums alone": checked - checking}}
"""


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="clapmos-bench-") as tmp:
        folder = Path(tmp)
        run_child(PREPARE.format(folder=str(folder), clips=CLIPS))
        def command(run: str) -> list[str]:
            return [sys.executable, "cli.py", "score", "--model", str(folder / run), str(folder / "corpus" / "wav"),
                    "--out", str(folder / f"{run}.csv"), "--cache", str(folder / "cache"), "--no-plots"]

        subprocess.run(command("run"), cwd=ROOT, check=True, capture_output=True)  # fills the cache
        whole, cpu, skops = [], [], []
        for _ in range(ROUNDS):  # the run as saved now, then the same run loaded through skops, turn about
            started, used = time.perf_counter(), _children_cpu()
            subprocess.run(command("run"), cwd=ROOT, check=True, capture_output=True)
            whole.append(time.perf_counter() - started)
            cpu.append(_children_cpu() - used)
            started = time.perf_counter()
            subprocess.run(command("run_skops"), cwd=ROOT, check=True, capture_output=True)
            skops.append(time.perf_counter() - started)
        assert (folder / "run.csv").read_bytes() == (folder / "run_skops.csv").read_bytes()  # the same scores either way
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        python = time.perf_counter() - started
        phases = run_child(PHASES.format(folder=str(folder), clips=CLIPS))
        phases.pop("peak_mb", None)
        imported = phases.pop("imported")
    load_after = os.getloadavg()[0]
    print(json.dumps({"whole": whole, "skops": skops, "python": python, **phases}, indent=1))
    best, median, cpu_median = min(whole), statistics.median(whole), statistics.median(cpu)
    rows = "\n".join(f"| {name} | {seconds:.2f} |" for name, seconds in phases.items())
    write_section("cached_score", f"""
## A cached re-score of {CLIPS} clips, whole process (`benchmarks/bench_cached_score.py`)

{CLIPS} demo clips (16 kHz wav of 6–10 s), `spectral` features, a 5-fold `ridge` run; the `score` cache
filled by a first run. `python cli.py score` as a new process, every clip read from the cache (each file
hashed, each cached row's checksum verified, predicted, written), {ROUNDS} runs: fastest **{best:.2f} s**,
median {median:.2f} s (target: at most {TARGET_S:g} s; {'met' if best <= TARGET_S else 'not met'} on this run); the
process's own CPU time (user + system), less disturbed by the other jobs of this shared machine: median
**{cpu_median:.2f} s**.

Phases of one such run, timed in a child process:

| phase | seconds |
|---|---:|
| starting Python (`python -c pass`) | {python:.2f} |
{rows}

The cache's checksums cost {phases['cache checksums alone']:.2f} s of the
{phases['score (hash, headers, cache, predict)']:.2f} s of scoring proper. A ridge run predicts from its ensembles'
arrays (`model/<target>/linear.npz`, `clapmos.heads.runs.linear_form`), so loading it ({phases['load run']:.2f} s)
reads JSON and numpy files and checks their sha256; of scikit-learn, skops, scipy and torch the process
imported {', '.join(imported) or 'none'}. Importing the stages (pandas, zarr: {phases['stage imports']:.2f} s) and hashing
the 600 audio files are most of what is left. The same run saved without the arrays (as runs were
before them; loaded through skops, with scikit-learn and scipy.stats), scored in turn with it in this run:
median {statistics.median(skops):.2f} s, **{statistics.median(skops) / median:.1f}×** the time, and the same scores byte for byte.
All runs (s): {json.dumps([round(s, 2) for s in whole])}; without the arrays: {json.dumps([round(s, 2) for s in skops])};
CPU: {json.dumps([round(s, 2) for s in cpu])}.
Load average of the machine (2 cores; other jobs share it): {load_before:.1f} before the run, {load_after:.1f} after.
Measured on {machine_line()}.
""")


if __name__ == "__main__":
    main()
