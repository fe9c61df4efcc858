"""Whole-process cached re-score with a ridge run: loading every head's modules (before) vs only the run's (after).

Setup: a demo corpus of ``CLIPS`` clips (``make-demo``), a 5-fold ``ridge`` run fitted on
its store, and one ``clapmos score`` over the wav folder that fills the cache. Then the same
command is run again as a new process, ``ROUNDS`` times each way, interleaved:

* **before**: what loading a run did before it trusted only its own heads' types: every head
  module imported (torch and LightGBM with them) and ``skops.io`` imported as is (it imports
  torch through scikit-learn's estimator listing). Emulated in the child by importing those
  first, then running the same CLI.
* **after**: the CLI as it is: a ridge run imports neither torch nor LightGBM.

Both print the same scores (checked). Writes the ``lazy_load`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, machine_line, run_child, write_section  # noqa: E402

CLIPS = 600
ROUNDS = 5

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
save_run(fit_run(store, RunConfig(embedders=["spectral"], heads=["ridge"], cv=5)), folder / "run")
_result = {{}}
"""

BEFORE = (
    "import skops.io, sys; from clapmos.heads.registry import head_specs; head_specs(); "
    "from clapmos.cli import app; sys.argv[0] = 'clapmos'; app()"
)
AFTER = "import sys; from clapmos.cli import app; sys.argv[0] = 'clapmos'; app()"


def score(folder: Path, code: str, out: str) -> float:
    command = [sys.executable, "-c", code, "score", "--model", str(folder / "run"), str(folder / "corpus" / "wav"),
               "--out", str(folder / out), "--cache", str(folder / "cache")]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="clapmos-bench-") as tmp:
        folder = Path(tmp)
        run_child(PREPARE.format(folder=str(folder), clips=CLIPS))
        score(folder, AFTER, "fill.csv")  # fills the cache
        times: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(ROUNDS):
            for name, code in (("before", BEFORE), ("after", AFTER)):
                times[name].append(score(folder, code, f"{name}.csv"))
        same = pd.read_csv(folder / "before.csv").equals(pd.read_csv(folder / "after.csv"))
    assert same, "the two ways gave different scores"
    print(json.dumps(times, indent=1))
    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    rounds = {k: [round(s, 2) for s in v] for k, v in times.items()}
    write_section("lazy_load", f"""
## Cached re-score with a ridge run, whole process: before/after lazy loading (`benchmarks/bench_lazy_load.py`)

{CLIPS} demo clips (`make-demo`), a 5-fold `ridge` run, the cache filled by one `clapmos score`; then the same
`clapmos score --model RUN WAV_FOLDER --cache CACHE` as a new process, {ROUNDS} times each way, interleaved.
*Before*: every head module and skops imported as loading did before a run trusted only its own heads' types
(torch and LightGBM come with them). *After*: the command as it is now (a ridge run imports neither). Same
scores both ways: **{'yes' if same else 'no'}**.

| loading | seconds (fastest) | seconds (median) | after / before |
|---|---:|---:|---:|
| before (every head's types, torch + LightGBM) | {best['before']:.2f} | {median['before']:.2f} | 1.00 |
| after (the run's heads only) | {best['after']:.2f} | {median['after']:.2f} | {median['after'] / median['before']:.2f} (medians) |

**A cached re-score of {CLIPS} clips takes {median['after']:.1f} s instead of {median['before']:.1f} s
({median['before'] - median['after']:.1f} s less per command).** All times: {json.dumps(rounds)}.
Load average of the machine (2 cores; other jobs may share it): {load_before:.1f} before the run, {os.getloadavg()[0]:.1f} after.
Measured on {machine_line()}.
""")


if __name__ == "__main__":
    main()
