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
import os
import statistics
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
from clapmos.embed.corpora import read_corpus
from clapmos.embed.corpora.demo import make_demo_corpus
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.run import RunConfig, fit_run, save_run
folder = Path({folder!r})
make_demo_corpus(folder / "corpus", n_clips={clips}, seed=0)
store = FeatureStore.create(folder / "store.zarr", read_corpus("musiceval", folder / "corpus"))
embed_corpus(store, "spectral", progress=False)
save_run(fit_run(store, RunConfig(embedders=["spectral"], heads=["spo_mlp"], cv=5)), folder / "run")
_result = {{}}
"""

MEASURE = """
import time, warnings, torch
from pathlib import Path
from clapmos.embed.corpora import read_corpus
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.engines.score_inputs import read_score_inputs
from clapmos.embed.store import FeatureStore
from clapmos.evaluation.predictor import Predictor
from clapmos.heads.runs.run import load_run

warnings.simplefilter("ignore")
torch.set_num_threads(1)  # two-thread torch stalls on a busy machine (see fit_heads above); both paths predict alike
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
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="clapmos-bench-") as tmp:
        folder = Path(tmp)
        run_child(PREPARE.format(folder=str(folder), clips=CLIPS))
        result = run_child(MEASURE.format(folder=str(folder), clips=CLIPS, rounds=ROUNDS))
        command = [sys.executable, "cli.py", "score", "--model", str(folder / "run"), str(folder / "corpus" / "wav"),
                   "--out", str(folder / "scores.csv"), "--cache", str(folder / "cache0")]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        cli_hit = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import cli, clapmos.evaluation.predictor"], cwd=ROOT, check=True)
        imports = time.perf_counter() - started
    print(json.dumps({**result, "cli_hit": cli_hit}, indent=1))
    best = {name: min(seconds) for name, seconds in result["times"].items()}
    median = {name: statistics.median(seconds) for name, seconds in result["times"].items()}
    load_after = os.getloadavg()[0]
    rounds = {name: [round(s, 2) for s in seconds] for name, seconds in result["times"].items()}
    write_section("score", f"""
## `score` against `embed` + `predict`, and a cache hit (`benchmarks/bench_score.py`)

{CLIPS} demo clips (16 kHz wav of 6–10 s, `make-demo`), the `spectral` embedder, a 5-fold `spo_mlp` run.
In one process with everything imported (1 torch thread), each path repeated {ROUNDS} times interleaved:
*embed + predict* is what the two commands do after parsing (read the corpus lists, create a store,
embed, predict); *score* is `Predictor.score_inputs` on the wav folder with an empty cache (find the
files, check every header, hash every file, embed into a cache shard, predict, build the table);
*cache hit* the same on the filled cache, with a new `Predictor`.

| path | seconds (fastest) | per clip (ms) | vs embed + predict | seconds (median) | vs embed + predict |
|---|---:|---:|---:|---:|---:|
| embed + predict | {best['bare']:.2f} | {1000 * best['bare'] / CLIPS:.1f} | 1.00 | {median['bare']:.2f} | 1.00 |
| score, empty cache | {best['score']:.2f} | {1000 * best['score'] / CLIPS:.1f} | {best['score'] / best['bare']:.2f} | {median['score']:.2f} | {median['score'] / median['bare']:.2f} |
| score, cache hit | {best['hit']:.2f} | {1000 * best['hit'] / CLIPS:.1f} | {best['hit'] / best['bare']:.2f} | {median['hit']:.2f} | {median['hit'] / median['bare']:.2f} |

`python cli.py score` as a user runs it, cache hit, as a new process (imports, loading the run, writing the
file): {cli_hit:.1f} s, of which {imports:.1f} s is starting Python and importing (torch, scikit-learn, skops).

**Ratio score / (embed + predict): {best['score'] / best['bare']:.2f} (fastest runs), {median['score'] / median['bare']:.2f}
(medians); a cache hit costs {best['hit'] / best['bare']:.2f} of embed + predict.** What `score` adds is finding the
files, a header check and a sha256 of every file, and the cache's lookups; `embed` + `predict` pays for parsing
the corpus lists instead. `spectral` costs a few milliseconds per clip, so this is the worst case for the
overhead: with CLAP (about 0.4 s per 10 s clip on these CPUs, see above) the model dominates both paths. A cache
hit never loads the embedder. All times per round: {json.dumps(rounds)}.
Load average of the machine (2 cores; other jobs may share it): {load_before:.1f} before the run, {load_after:.1f} after.
Measured on {machine_line()}.
""")


if __name__ == "__main__":
    main()
