"""Fit time and peak memory of every head on a MusicEval-sized store (section ``fit_heads``).

The store is random: 2,335 items x 1,024 paired features (512 audio | 512 text, unit
norm), two targets on the 1-5 scale rated by 5 of 14 raters per item, with a weak
linear signal so that early stopping behaves as on real data. Every head is fitted
with its defaults (``make_head(name, target=["overall", "textual"])``), one fresh
process per head; the SPO heads also get the per-rater scores. The first row fits
nothing: its peak memory is that of the imports and the data.

    python benchmarks/bench_fit_heads.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine_line, run_child, write_section  # noqa: E402

N_ITEMS, HALF_DIM, N_RATERS, POOL = 2335, 512, 5, 14

DATA = f"""
import time, numpy as np, pandas as pd
from clapmos.heads import HEAD_NAMES, listener_matrices, make_head
rng = np.random.default_rng(0)
X = rng.normal(size=({N_ITEMS}, {2 * HALF_DIM})).astype(np.float32)
X[:, :{HALF_DIM}] /= np.linalg.norm(X[:, :{HALF_DIM}], axis=1, keepdims=True)
X[:, {HALF_DIM}:] /= np.linalg.norm(X[:, {HALF_DIM}:], axis=1, keepdims=True)
quality = X @ rng.normal(size=({2 * HALF_DIM}, 2)) * 3
rows = [(i, r) for i in range({N_ITEMS}) for r in rng.choice({POOL}, {N_RATERS}, replace=False)]
ratings = pd.DataFrame(rows, columns=["item", "listener"]).astype({{"listener": str}})
for j, target in enumerate(["overall", "textual"]):
    raw = 3 + quality[ratings["item"], j] + rng.normal(size=len(ratings))
    ratings[target] = np.clip(np.round(raw), 1, 5)
scores, ids = listener_matrices(ratings, {N_ITEMS}, ["overall", "textual"])
y = np.nanmean(scores, axis=1)
"""

FIT = """
fit_s, epochs = 0.0, ""
if HEAD:
    head = make_head(HEAD, target=["overall", "textual"], **PARAMS)
    meta = {"model__listener_scores": scores, "model__listener_ids": ids} if HEAD in ("spo_mlp", "cosine") else {}
    start = time.perf_counter()
    head.fit(X, y, **meta)
    fit_s = time.perf_counter() - start
    model = head.named_steps["model"]
    if hasattr(model, "history_"):
        epochs = f"{len(model.history_) - 1} (best {model.best_epoch_})"
_result = {"fit_s": fit_s, "epochs": epochs}
"""

ONE_THREAD = "import torch; torch.set_num_threads(1)"
RUNS = [  # label, head, settings, process setup
    ("(data only)", "", {}, ""),
    ("ridge", "ridge", {}, ""),
    ("lgbm", "lgbm", {}, ""),
    ("mlp", "mlp", {}, ""),
    ("spo_mlp", "spo_mlp", {}, ""),
    ("cosine", "cosine", {}, ""),
    ("svr", "svr", {}, ""),
    ("dist", "dist", {}, ""),
    ("coral", "coral", {}, ""),
    ("mlp, no early stop", "mlp", {"patience": 10_000}, ""),
    ("spo_mlp, no early stop", "spo_mlp", {"patience": 10_000}, ""),
    ("mlp, 1 torch thread", "mlp", {}, ONE_THREAD),
    ("spo_mlp, 1 torch thread", "spo_mlp", {}, ONE_THREAD),
]
REPEATS = 3


def main() -> None:
    lines = [
        "## Fitting the heads (`benchmarks/bench_fit_heads.py`)",
        "",
        f"Random MusicEval-sized store: {N_ITEMS:,} items x {2 * HALF_DIM:,} paired features, two targets "
        f"(overall and textual, one model), {N_RATERS} of {POOL} raters per item; default settings, "
        f"one fresh process per fit, {REPEATS} fits per row. Epochs: run (best kept). The \"no early stop\" "
        "rows run every one of `max_epochs` (the worst case); the \"1 torch thread\" rows call "
        "`torch.set_num_threads(1)` in the process first (the heads never change thread settings). "
        "On a machine busy with other jobs, two-thread torch fits stalled (up to 10x slower, as did "
        "LightGBM with `n_jobs=2`) while one-thread fits did not: set one thread there.",
        "",
        f"Machine: {machine_line()}",
        "",
        "| head | fit (s), best | fit (s), worst | peak memory (MB) | epochs |",
        "|---|---:|---:|---:|---|",
    ]
    for label, head, params, setup in RUNS:
        results = [
            run_child(f"{setup}\n{DATA}\nHEAD, PARAMS = {head!r}, {params!r}\n{FIT}") for _ in range(REPEATS if head else 1)
        ]
        times = [r["fit_s"] for r in results]
        best, worst = (f"{min(times):.1f}", f"{max(times):.1f}") if head else ("-", "-")
        peak = max(r["peak_mb"] for r in results)
        lines.append(f"| {label} | {best} | {worst} | {peak:.0f} | {results[0]['epochs'] or '-'} |")
        print(lines[-1], flush=True)
    write_section("fit_heads", "\n".join(lines))


if __name__ == "__main__":
    main()
