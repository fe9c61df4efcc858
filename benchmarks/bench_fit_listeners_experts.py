"""`fit --cv 5` of the listener-conditioned head (`ldnet`) and the mixture of experts (`moe`, two embedders).

The synthetic stores of `bench_fit_cv.py` (MusicEval-sized: 2,335 items × 1,024 per embedder, two
targets, 5 of 14 raters per clip; XACLE-sized: 10,500 items × 1,536, one target, 4 listeners per clip
from a pool of 3,000), each with two embedders. Every fit is the real command with default settings in
a fresh process, torch on one thread; `mlp` on the same store is timed in the same run for the ratio.
Targets (issue 24): ≤ 60 s on the MusicEval-sized store, ≤ 120 s on the XACLE-sized one, on 2 cores.

    python benchmarks/bench_fit_listeners_experts.py     # writes the "fit_listeners_experts" section of BENCHMARKS.md
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import machine_line, write_section  # noqa: E402
from bench_fit_cv import synthetic_store, time_fit  # noqa: E402

FITS = [("mlp", "synthetic"), ("ldnet", "synthetic"), ("moe", "synthetic,synthetic2")]
LIMITS = {"MusicEval-sized": 60, "XACLE-sized": 120}


def main() -> None:
    corpora = {
        "MusicEval-sized": dict(n=2335, dim=512, targets=["overall", "textual"], scale=(1, 5), raters=5, pool=14, systems=31),
        "XACLE-sized": dict(n=10500, dim=768, targets=["alignment"], scale=(0, 10), raters=4, pool=3000, systems=0),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, spec) in enumerate(corpora.items()):
            store = Path(tmp) / f"store{k}.zarr"
            synthetic_store(store, seed=k, **spec)
            seconds = {}
            for i, (head, embedders) in enumerate(FITS):
                result = time_fit(store, head, Path(tmp) / f"run{k}-{i}", embedders)
                print(name, head, embedders, result, flush=True)
                seconds[head] = result["seconds"]
                label = f"`{head}`" + (" (two embedders)" if "," in embedders else "")
                verdict = "" if head == "mlp" else ("within" if result["seconds"] <= LIMITS[name] else "OVER") + f" {LIMITS[name]} s"
                rows.append(
                    f"| {name} | {label} | {result['seconds']:.1f} | {result['seconds'] / seconds['mlp']:.1f}× | "
                    f"{result['peak_mb'] / 1024:.2f} GB | {verdict} | {result['load'][0]:.1f}–{result['load'][1]:.1f} |"
                )
                write_report(rows)  # after every fit: an interrupted run keeps what it measured


def write_report(rows: list[str]) -> None:
    write_section(
        "fit_listeners_experts",
        f"""## `fit --cv 5` of `ldnet` and `moe` (`benchmarks/bench_fit_listeners_experts.py`)

The synthetic stores of the `fit_cv` section (MusicEval-sized: 2,335 clips × 1,024 per embedder, 2 targets,
5 ratings per clip from 14 raters; XACLE-sized: 10,500 clips × 1,536, 1 target, 4 ratings per clip from 3,000
listeners), each fitted by `cli.py fit --cv 5` with default settings in a fresh process (torch on one
thread). `ldnet` trains on every rating plus one mean-listener row per clip (6× and 5× the rows of `mlp`);
`moe` reads two embedders (`--embedder synthetic,synthetic2`), one expert each. *vs mlp*: the time of
`mlp` (one embedder) in this same run. *Target*: issue 24's limit (60 s MusicEval-sized, 120 s XACLE-sized).
*Load*: the machine's 1-minute load average before and after the fit; with 2 cores, a load above 2
means other jobs shared them and every time here is inflated accordingly.

| store | head | fit --cv 5 (s) | vs mlp | peak memory | target | load |
|---|---|---:|---:|---:|---|---|
{chr(10).join(rows)}

Machine: {machine_line()}.""",
    )


if __name__ == "__main__":
    main()
