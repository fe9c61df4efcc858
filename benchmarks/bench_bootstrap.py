"""How long 2,000 bootstrap draws take on a MusicEval-sized prediction set (2,335 clips, 31 systems).

Simulated truths and predictions (system effects, clip noise), one process, everything
imported first; each measurement is repeated ``ROUNDS`` times and the fastest kept:

* **two-level draws**: :func:`clapmos.evaluation.bootstrap.draw_systems` (systems, then
  their clips), index arrays only;
* **system level, all four metrics**: those draws plus MSE, LCC, SRCC and KTAU of every draw
  (the system means of each draw from the drawn clips);
* **system level, SRCC**: draws plus SRCC only (the AudioMOS ranking metric);
* **utterance level, SRCC**: 2,000 clip draws plus SRCC (the XACLE ranking metric);
* **evaluate's intervals**: :func:`clapmos.evaluation.intervals.metric_intervals`, both
  levels, all four metrics, one target: what ``evaluate --draws 2000`` adds per target.

Target (issue 22): the two-level bootstrap's 2,000 draws take at most 2 s. Writes the
``bootstrap`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, write_section  # noqa: E402

from clapmos.evaluation.bootstrap import BATCHED, draw_clips, draw_systems  # noqa: E402
from clapmos.evaluation.intervals import metric_intervals  # noqa: E402

CLIPS, SYSTEMS, DRAWS, ROUNDS = 2335, 31, 2000, 3


def fastest(work) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    system = np.sort(rng.integers(0, SYSTEMS, CLIPS))
    truth = rng.normal(0, 0.7, SYSTEMS)[system] + rng.normal(0, 0.8, CLIPS)
    prediction = truth + rng.normal(0, 0.5, CLIPS)

    def system_metrics(metrics):
        draws = draw_systems(system, DRAWS, np.random.default_rng(1))
        return [draws.metric(truth, prediction, m) for m in metrics]

    rows = [
        ("two-level draws (index arrays)", fastest(lambda: draw_systems(system, DRAWS, np.random.default_rng(1)))),
        ("system level: draws + MSE, LCC, SRCC, KTAU", fastest(lambda: system_metrics(BATCHED))),
        ("system level: draws + SRCC", fastest(lambda: system_metrics(["SRCC"]))),
        ("utterance level: clip draws + SRCC", fastest(lambda: draw_clips(CLIPS, DRAWS, np.random.default_rng(1)).metric(truth, prediction, "SRCC"))),
        ("evaluate's intervals: both levels, four metrics, one target", fastest(lambda: metric_intervals(
            pd.DataFrame({"overall": truth}), pd.DataFrame({"overall": prediction}), system, n_draws=DRAWS))),
    ]
    table = "\n".join(f"| {name} | {seconds:.2f} |" for name, seconds in rows)
    verdict = "met" if rows[1][1] <= 2.0 else "**not met**"
    markdown = f"""
## Bootstrap intervals: {DRAWS:,} draws on {CLIPS:,} clips in {SYSTEMS} systems

Simulated MusicEval-sized predictions; one process, fastest of {ROUNDS} rounds
(`benchmarks/bench_bootstrap.py`). Target: 2,000 two-level draws with their metrics in at most 2 s: {verdict}.

| what | seconds |
|---|---:|
{table}

The draws are index arrays (systems drawn, then each drawn system's clips) and the system
means of all draws come from one weighted `bincount`; Pearson and Spearman run on all draws at
once (`scipy.stats.pearsonr(axis=1)`; clip draws are ranked by counting, without sorting each
draw), Kendall's tau on sign matrices for few pairs (systems) and by `scipy.stats.kendalltau`
draw by draw for many (the utterance level's KTAU is most of `evaluate`'s time).
Machine: {machine_line()}.
"""
    print(markdown)
    write_section("bootstrap", markdown)


if __name__ == "__main__":
    main()
