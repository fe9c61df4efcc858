"""The fit → predict → evaluate flow as plain functions: what ``cli.py fit`` and ``predict`` do, for notebooks too.

>>> from clapmos.heads.runs.run import RunConfig
>>> outcome = fit_and_report("demo/store.zarr", RunConfig(embedders=["spectral"], heads=["ridge"], eval_split=["dev"]),
...                          "runs/ridge")                                                  # doctest: +SKIP
>>> outcome.cv.results, outcome.held_out.results                                           # doctest: +SKIP
>>> predict_to_file("runs/ridge", "demo/store.zarr", "answer.txt", split=["dev"], format="audiomos")  # doctest: +SKIP

Like :mod:`clapmos.evaluation.predictor`, this module joins the stages (it fits heads and reads
stores); the rest of ``evaluation`` only scores tables (``tests/test_layering.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clapmos.embed.store import FeatureStore
from clapmos.evaluation.attention_plots import attention_plot, worst_clips
from clapmos.evaluation.fit_report import has_oof, heads_table, oof_report, write_fit_report
from clapmos.evaluation.report import EvaluationReport, evaluate_predictions
from clapmos.evaluation.submissions import write_submission
from clapmos.evaluation.truth import truth_from_store
from clapmos.heads.runs.folder import writing_run_folder
from clapmos.heads.runs.run import FittedRun, RunConfig, fit_run, load_run, write_run_files


@dataclass
class FitOutcome:
    """A fitted and saved run with its reports: out-of-fold (``cv``), per head, and on the held-out split."""

    run: FittedRun
    folder: Path
    cv: EvaluationReport | None  # None for one model per head (``cv=1``): nothing held out
    heads: pd.DataFrame | None  # per head and the ensemble (out-of-fold), when several heads are stacked
    held_out: EvaluationReport | None  # when ``config.eval_split`` is labelled


def fit_and_report(store: str | Path | FeatureStore, config: RunConfig, out_dir: str | Path, plots: bool = True) -> FitOutcome:
    """Fit ``config`` on ``store``, save the run to ``out_dir``, predict and score the held-out split, write the reports.

    The run folder is written whole (staged beside ``out_dir`` and swapped in when complete,
    see :mod:`clapmos.heads.runs.folder`): an earlier run there is replaced, anything else refused.
    """
    out_dir = Path(out_dir)
    features = store if isinstance(store, FeatureStore) else FeatureStore.open(store)
    run = fit_run(features, config)
    with writing_run_folder(out_dir) as folder:
        write_run_files(run, folder)
        held_out = None
        if config.eval_split:
            eval_name = "+".join(config.eval_split)
            predictions = run.predict(features, config.eval_split)
            truth = truth_from_store(features.path, config.eval_split)
            if truth.labelled:
                held_out = evaluate_predictions(predictions[["id", *run.targets]], truth, f"{eval_name} predictions",
                                                label=f"{eval_name}, held out · {'+'.join(config.heads)}")
            predictions.to_csv(folder / "eval_predictions.csv", index=False)
        write_fit_report(run.oof, run.targets, folder, held_out, plots=plots, heads="+".join(config.heads),
                         train_split="+".join(config.train_split))
        oof = has_oof(run.oof, run.targets)
        if plots and run.reads_frames and (oof or held_out is not None):
            write_attention_plots(run, features, folder, held_out)
    heads = heads_table(run.oof, run.targets) if len(config.heads) > 1 and oof else None
    return FitOutcome(run, out_dir, oof_report(run.oof, run.targets) if oof else None, heads, held_out)


def write_attention_plots(run: FittedRun, store: FeatureStore, folder: Path, held_out: EvaluationReport | None) -> None:
    """``eval/attention_<target>.png`` (or ``cv/``, from the out-of-fold predictions): where the frame heads listen in the worst-predicted clips."""
    if held_out is not None:
        where, split, clips = folder / "eval", run.config.eval_split, held_out.clips.rename(columns=lambda c: c.removesuffix("_true"))
    else:
        where, split, clips = folder / "cv", run.config.train_split, run.oof
    for target in run.targets:
        worst = worst_clips(clips, target)
        if len(worst):
            table = run.attention(store, split, ids=worst["id"])
            attention_plot(table[table["target"] == target], worst, target, where / f"attention_{target}.png")


def predict_to_file(
    model: str | Path | FittedRun, store: str | Path | FeatureStore, out_file: str | Path, split: list[str] | None = None,
    format: str = "csv",
) -> pd.DataFrame:
    """Predict ``split`` of ``store`` with the run (folder) ``model`` and write a validated submission file; return the predictions."""
    run = model if isinstance(model, FittedRun) else load_run(model)
    features = store if isinstance(store, FeatureStore) else FeatureStore.open(store)
    predictions = run.predict(features, split)
    targets = [c for c in predictions.columns if c not in ("id", "system")] if format == "csv" else None
    write_submission(predictions, Path(out_file), format, expected_ids=features.items(split)["id"], targets=targets)
    return predictions
