"""What ``score`` costs over the bare ``embed`` + ``predict`` path, and what a cache hit costs.

Setup: a demo corpus of ``CLIPS`` clips (``cli.py make-demo``, 16 kHz wav, 6 to 10 s), a
``spo_mlp`` run fitted on its store (5 folds). In one fresh process, with everything imported
once, three things are timed on the same clips and repeated ``ROUNDS`` times interleaved,
each keeping its fastest time:

* **embed + predict**: what the two commands do after parsing: read the corpus lists, create
  a store, ``embed_corpus`` with ``spectral``, ``FittedRun.predict``.
* **score**: ``Predictor.score_inputs`` on the wav folder with a new, empty cache: find the
  files, check every header, hash every file, embed into a cache shard, predict, build the table.
* **score, cache hit**: the same again on the filled cache (a new ``Predictor`` each time).

The command as a user runs it (``python cli.py score ...``, a new process: imports and
loading the run included) is timed once for a cache hit. ``spectral`` costs a few
milliseconds per clip, so this is the worst case for the overhead: with CLAP or M2D the model
dominates both paths. Writes the ``score`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, machine_line, run_child, write_section  # noqa: E402

CLIPS = 320
ROUNDS = 5

PREPARE = """
from pathlib import Path
from embed.corpora import read_corpus
from embed.corpora.demo import make_demo_corpus
from embed.runner import embed_corpus
from embed.store import FeatureStore
from heads.runs import RunConfig, fit_run, save_run
folder = Path({folder!r})
make_demo_corpus(folder / "corpus", n_clips={clips}, seed=0)
store = FeatureStore.create(folder / "store.zarr", read_corpus("musiceval", folder / "corpus"))
embed_corpus(store, "spectral", progress=False)
save_run(fit_run(store, RunConfig(embedders=["spectral"], heads=["spo_mlp"], cv=5)), folder / "run")
_result = {{}}
"""

MEASURE = """
import shutil, time, warnings
from pathlib import Path
from embed.corpora import read_corpus
from embed.runner import embed_corpus
from embed.score_inputs import read_score_inputs
from embed.store import FeatureStore
from evaluation.predictor import Predictor
from heads.runs import load_run

warnings.simplefilter("ignore")
folder = Path({folder!r})
run = load_run(folder / "run")

def bare(k):
    store = FeatureStore.create(folder / f"bare{{k}}.zarr", read_corpus("musiceval", folder / "corpus"))
    embed_corpus(store, "spectral", progress=False)
    return run.predict(store)

def score(k):
    predictor = Predictor.from_run(run, cache=folder / f"cache{{k}}")
    return predictor.score_inputs(read_score_inputs([folder / "corpus" / "wav"]))

def hit(k):
    predictor = Predictor.from_run(run, cache=folder / "cache0")
    return predictor.score_inputs(read_score_inputs([folder / "corpus" / "wav"]))

times = {{"bare": [], "score": [], "hit": []}}
for k in range({rounds}):
    for name, step in (("bare", bare), ("score", score), ("hit", hit)):
        started = time.perf_counter()
        result = step(k)
        times[name].append(time.perf_counter() - started)
    assert result.embedded == 0 and result.cached == {clips}
_result = {{"times": times}}
"""


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="clapmos-bench-") as tmp:
        folder = Path(tmp)
        run_child(PREPARE.format(folder=str(folder), clips=CLIPS))
        result = run_child(MEASURE.format(folder=str(folder), clips=CLIPS, rounds=ROUNDS))
        command = [sys.executable, "cli.py", "score", "--model", str(folder / "run"), str(folder / "corpus" / "wav"),
                   "--out", str(folder / "scores.csv"), "--cache", str(folder / "cache0")]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        cli_hit = time.perf_counter() - started
    print(json.dumps({**result, "cli_hit": cli_hit}, indent=1))
    best = {name: min(seconds) for name, seconds in result["times"].items()}
    rounds = {name: [round(s, 2) for s in seconds] for name, seconds in result["times"].items()}
    write_section("score", f"""
## `score` against `embed` + `predict`, and a cache hit (`benchmarks/bench_score.py`)

{CLIPS} demo clips (16 kHz wav of 6–10 s, `make-demo`), the `spectral` embedder, a 5-fold `spo_mlp` run.
In one process with everything imported, each path repeated {ROUNDS} times interleaved, fastest kept:
*embed + predict* is what the two commands do after parsing (read the corpus lists, create a store,
embed, predict); *score* is `Predictor.score_inputs` on the wav folder with an empty cache (find the
files, check every header, hash every file, embed into a cache shard, predict, build the table);
*cache hit* the same on the filled cache, with a new `Predictor`.

| path | seconds | per clip (ms) | vs embed + predict |
|---|---:|---:|---:|
| embed + predict | {best['bare']:.2f} | {1000 * best['bare'] / CLIPS:.1f} | 1.00 |
| score, empty cache | {best['score']:.2f} | {1000 * best['score'] / CLIPS:.1f} | {best['score'] / best['bare']:.2f} |
| score, cache hit | {best['hit']:.2f} | {1000 * best['hit'] / CLIPS:.1f} | {best['hit'] / best['bare']:.2f} |
| `python cli.py score` as a new process, cache hit (imports, loading the run, writing the file) | {cli_hit:.2f} | | |

**Overhead of `score` over `embed` + `predict`: {best['score'] / best['bare']:.2f}×** (hashing and header checks of
every file, the cache's lookups). `spectral` costs a few milliseconds per clip, so this is the worst case: with CLAP
(about 0.4 s per 10 s clip on these CPUs, see above) the model dominates both paths and the ratio nears 1. A cache
hit never loads the embedder. All times per round: {json.dumps(rounds)}.
The machine was shared with other jobs during the run. Measured on {machine_line()}.
""")


if __name__ == "__main__":
    main()
