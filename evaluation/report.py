"""The ``evaluate`` workflow: align a prediction file with the truth, score it, write the report.

:func:`evaluate_file` reads predictions in any submission format, keeps the clips present in
both the predictions and the truth (warning with counts about the rest), and scores them
with :func:`clapmos.evaluation.metrics.score`. :func:`write_outputs` writes ``results.csv`` (the tidy
metrics), ``results.json`` (the same plus what was scored), ``predictions.csv`` (truth and
prediction per clip) and one scatter plot per level and target.

>>> import pandas as pd, tempfile, pathlib
>>> from clapmos.evaluation.truth import Truth
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> truth = Truth(pd.DataFrame({"id": ["a", "b", "c"], "system": ["S1", "S1", "S2"],
...                             "overall": [1.0, 2.0, 4.0]}), ["overall"], "example")
>>> _ = (folder / "pred.csv").write_text("id,overall\\na,1.5\\nb,2.0\\nc,3.5\\n")
>>> report = evaluate_file(folder / "pred.csv", truth)
>>> print(format_line(report.results))
[overall] [UTT][ MSE = 0.167 | LCC = 0.996 | SRCC = 1.000 | KTAU = 1.000 ] [SYS][ MSE = 0.156 | LCC = 1.000 | SRCC = 1.000 | KTAU = 1.000 ]
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clapmos.embed.corpora.formats import SONGEVAL_TOP_TIER
from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.files import staging_folder, swap_in
from clapmos.embed.ownership import check_replaceable, folder_kind, record_folder, refuse_inside
from clapmos.evaluation.intervals import BootstrapSettings, metric_intervals, with_intervals
from clapmos.evaluation.metrics import LEVELS, EvaluationWarning, format_line, score, system_table
from clapmos.evaluation.submissions import SHOWN_IDS, detect_format, read_submission
from clapmos.evaluation.truth import Truth


@dataclass
class EvaluationReport:
    """What :func:`evaluate_file` scored and how it scored."""

    results: pd.DataFrame
    clips: pd.DataFrame  # id, system, then <target>_true and <target>_pred per target
    targets: list[str]
    prediction_file: Path
    format: str
    truth: Truth
    n_missing: int  # truth clips without a prediction
    n_extra: int  # predicted ids the truth lacks
    label: str = ""  # what was predicted, for plot titles: split and head(s), or file and truth
    bootstrap: BootstrapSettings = BootstrapSettings(0)  # how results' low and high were drawn (0 draws: none)
    seen: pd.DataFrame | None = None  # metrics on seen and unseen systems/prompts (clapmos.evaluation.seen), when known
    paired: pd.DataFrame | None = None  # paired comparison with another predictor (clapmos.evaluation.paired), when asked

    def summary(self) -> dict:
        """The report as JSON-ready data (NaN becomes ``None``)."""
        metrics: dict = {}
        for (level, target), rows in self.results.groupby(["level", "target"], sort=False):
            entry = {m: None if math.isnan(v) else v for m, v in zip(rows["metric"], rows["value"])}
            entry["N"] = int(rows["n"].max())
            if "low" in rows:
                entry["interval"] = {m: None if math.isnan(lo) else [lo, hi] for m, lo, hi in zip(rows["metric"], rows["low"], rows["high"])}
            metrics.setdefault(level, {})[target] = entry
        return {
            "prediction_file": str(self.prediction_file),
            "label": self.label,
            "format": self.format,
            "truth": self.truth.source,
            "system_truth": "given means" if self.truth.system_means is not None else "means of clip truths",
            "targets": self.targets,
            "clips_scored": len(self.clips),
            "truth_clips_without_prediction": self.n_missing,
            "predicted_ids_without_truth": self.n_extra,
            "line": format_line(self.results),
            "bootstrap": self.bootstrap.summary() if self.bootstrap.n_draws else None,
            "metrics": metrics,
            **({"seen": json.loads(self.seen.to_json(orient="records"))} if self.seen is not None and len(self.seen) else {}),
        }


def evaluate_file(
    prediction_file: str | Path, truth: Truth, format: str = "auto", bootstrap: BootstrapSettings = BootstrapSettings()
) -> EvaluationReport:
    """Score the prediction file against ``truth`` on the ids both have.

    Ids on one side only are left out with an :class:`EvaluationWarning` giving their counts;
    no common id, or no common target, is a :class:`~clapmos.embed.errors.ClapmosError`.
    """
    if not truth.labelled:
        raise ClapmosError(
            f"{truth.source} has no known scores, so there is nothing to evaluate "
            "(an unlabelled split? --check validates a submission for it)"
        )
    path = Path(prediction_file)
    fmt = detect_format(path) if format == "auto" else format
    return evaluate_predictions(read_submission(path, fmt), truth, path, fmt, label=f"{path.name} vs {truth.source}", bootstrap=bootstrap)


def evaluate_predictions(
    predictions: pd.DataFrame, truth: Truth, source: str | Path = "predictions", format: str = "csv", label: str | None = None,
    bootstrap: BootstrapSettings = BootstrapSettings(),
) -> EvaluationReport:
    """Score in-memory predictions (``id`` and one column per target) against ``truth``, as :func:`evaluate_file` does.

    Predictions that are not finite (NaN, inf) are refused with their ids: no metric of
    them would mean anything. ``label`` names what was predicted in plot titles. Each metric
    gets a bootstrap interval (``low``, ``high``; :mod:`clapmos.evaluation.intervals`) unless
    ``bootstrap`` has 0 draws; prompts shared by several clips are resampled whole.
    """
    if not truth.labelled:
        raise ClapmosError(f"{truth.source} has no known scores, so there is nothing to evaluate")
    path, fmt = Path(source), format
    predicted = [c for c in predictions.columns if c not in ("id", "system")]
    pairwise = None
    if truth.comparisons is not None:
        from clapmos.evaluation.pairwise import pairwise_results

        bad = predictions["id"][~np.isfinite(predictions[predicted].to_numpy(dtype=float)).all(axis=1)]
        if len(bad):
            raise ClapmosError(f"{path}: {len(bad)} clip(s) have predictions that are not finite numbers:\n{listing(bad)}")
        pairwise = pairwise_results(truth.comparisons, predictions, bootstrap.n_draws, bootstrap.confidence, bootstrap.seed)
        rated = [t for t in truth.targets if t in predicted and truth.clips[t].notna().any()]
        if not rated:  # a corpus of votes only: nothing else to score
            clips = truth.clips[["id", "system"]].merge(predictions[["id", *predicted]], on="id", how="inner")
            return EvaluationReport(pairwise, clips, [], path, fmt, truth, len(truth.clips) - len(clips),
                                    int((~predictions["id"].isin(truth.clips["id"])).sum()), label or f"{path.name} vs {truth.source}")
    targets = _common_targets(path, predicted, truth)
    clips, n_missing, n_extra = _align(path, predictions, truth, targets)
    _refuse_non_finite(path, clips, targets)
    true = clips[[f"{t}_true" for t in targets]].set_axis(targets, axis=1)
    pred = clips[[f"{t}_pred" for t in targets]].set_axis(targets, axis=1)
    systems = clips["system"].where(clips["system"] != "")
    if systems.isna().all():
        if truth.system_means is not None:
            raise ClapmosError(f"{truth.source} has no system ids, so given system means cannot be used")
        systems = None
    given = truth.system_means[targets] if truth.system_means is not None else None
    system_ids = None if systems is None else systems.to_numpy()
    results = score(true, pred, systems=system_ids, system_truth=given)
    per_target, mean_of = None, ()
    if truth.corpus == "songeval":
        from clapmos.evaluation.top_tier import top_tier_interval_metrics, top_tier_results

        results = top_tier_results(true, pred, system_ids, SONGEVAL_TOP_TIER, results)
        per_target, mean_of = top_tier_interval_metrics(SONGEVAL_TOP_TIER), list(SONGEVAL_TOP_TIER)
    if bootstrap.n_draws:
        prompts = None if truth.prompts is None else truth.prompts.reindex(clips["id"]).to_numpy(dtype=object)
        intervals = metric_intervals(true, pred, system_ids, groups=prompts, system_truth=given, n_draws=bootstrap.n_draws,
                                     confidence=bootstrap.confidence, seed=bootstrap.seed, per_target=per_target, mean_of=mean_of)
        results = with_intervals(results, intervals)
    if pairwise is not None:
        results = pd.concat([results, pairwise], ignore_index=True)
    return EvaluationReport(results, clips, targets, path, fmt, truth, n_missing, n_extra, label or f"{path.name} vs {truth.source}",
                            bootstrap)


def _refuse_non_finite(path: Path, clips: pd.DataFrame, targets: list[str]) -> None:
    """Refuse predictions that are not finite where the truth is known (the pairs that would be scored)."""
    values = clips[[f"{t}_pred" for t in targets]].to_numpy(dtype=float)
    known = clips[[f"{t}_true" for t in targets]].notna().to_numpy()
    bad = known & ~np.isfinite(values)
    rows = np.flatnonzero(bad.any(axis=1))
    if len(rows):
        entries = [
            f"{clips['id'].iat[i]}: " + ", ".join(f"{t} = {values[i, j]}" for j, t in enumerate(targets) if bad[i, j])
            for i in rows
        ]
        raise ClapmosError(
            f"{path}: {len(rows)} clip(s) have predictions that are not finite numbers, so no score of them would mean "
            f"anything:\n{listing(entries)}\nFix or re-make the predictions (`clapmos predict` never writes such values)."
        )


def default_out_dir(prediction_file: str | Path) -> Path:
    """``<folder of the file>/<its stem>_eval``."""
    path = Path(prediction_file)
    return path.with_name(f"{path.stem}_eval")


def check_report_destination(out_dir: str | Path) -> Path:
    """Refuse, before any work, an ``--out-dir`` that is a file, holds anything clapmos may not replace, or is inside a clapmos folder."""
    out_dir = Path(out_dir)
    refuse_inside(out_dir, "--out-dir")
    if out_dir.exists() and not out_dir.is_dir():
        raise ClapmosError(f"--out-dir {out_dir} is a file; give a folder.")
    if folder_kind(out_dir) not in (None, "report"):
        raise ClapmosError(f"--out-dir {out_dir} is a clapmos {folder_kind(out_dir)}, not a report; it is left as it is. Choose a new folder.")
    check_replaceable([out_dir], "--out-dir")
    return out_dir


def write_outputs(report: EvaluationReport, out_dir: str | Path, plots: bool = True) -> list[Path]:
    """Write results.csv, results.json, predictions.csv and (unless ``plots`` is False) PNGs.

    The folder is written beside ``out_dir`` and replaces it whole when complete, so no
    file of an earlier report stays behind; its files are recorded (:mod:`clapmos.embed.ownership`), and a folder
    holding anything else (a file the user added to a report) is refused.
    """
    out_dir = Path(out_dir)
    check_report_destination(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out_dir)
    names = ["results.csv", "results.json", "predictions.csv"]
    report.results.to_csv(staging / names[0], index=False)
    (staging / names[1]).write_text(json.dumps(report.summary(), indent=2) + "\n", encoding="utf-8")
    report.clips.to_csv(staging / names[2], index=False)
    if report.seen is not None and len(report.seen):
        report.seen.to_csv(staging / "seen_unseen.csv", index=False)
        names.append("seen_unseen.csv")
    if report.paired is not None:
        report.paired.to_csv(staging / "paired.csv", index=False)
        names.append("paired.csv")
    if plots:
        names += [path.name for path in _scatter_plots(report, staging)]
        from clapmos.evaluation.plots import metrics_plot

        names.append(metrics_plot(report.results, staging / "metrics.png", title=report.label, confidence=report.bootstrap.confidence).name)
    record_folder(staging, "report")
    swap_in(staging, out_dir, check=lambda old: check_replaceable([old], "--out-dir"))
    return [out_dir / name for name in names]


def _scatter_plots(report: EvaluationReport, out_dir: Path) -> list[Path]:
    from clapmos.evaluation.plots import scatter_plot

    paths = []
    for level in LEVELS:
        for target in report.targets:
            rows = report.results[(report.results["level"] == level) & (report.results["target"] == target)]
            if rows.empty:
                continue
            truth, prediction = report.clips[f"{target}_true"], report.clips[f"{target}_pred"]
            labels = None
            if level == "system":
                given = None if report.truth.system_means is None else report.truth.system_means[target]
                table = system_table(truth, prediction, report.clips["system"].where(report.clips["system"] != ""), given)
                truth, prediction, labels = table["truth"], table["prediction"], table["system"]
            metrics = dict(zip(rows["metric"], rows["value"]))
            title = f"{report.label}\n{level} level, {target} (n = {int(rows['n'].max())})"
            path = out_dir / f"scatter_{level}_{target}.png"
            paths.append(scatter_plot(truth, prediction, path, title=title, metrics=metrics, labels=labels))
    return paths


def _common_targets(path: Path, predicted: list[str], truth: Truth) -> list[str]:
    targets = [t for t in truth.targets if t in predicted]
    if not targets:
        raise ClapmosError(
            f"{path} predicts {', '.join(predicted) or 'nothing'} but {truth.source} has {', '.join(truth.targets)}: "
            "no target in common (for other targets write the csv format with an id,<target> header)"
        )
    for side, names in ((f"{path} predicts", [t for t in predicted if t not in targets]),
                        (f"{truth.source} has", [t for t in truth.targets if t not in targets])):
        if names:
            warnings.warn(f"{side} {', '.join(names)}, which the other side lacks; not evaluated", EvaluationWarning, stacklevel=3)
    return targets


def _align(path: Path, predictions: pd.DataFrame, truth: Truth, targets: list[str]) -> tuple[pd.DataFrame, int, int]:
    """Clips with both truth and prediction (in truth order), and the counts of the rest."""
    known = truth.clips[["id", "system", *targets]].rename(columns={t: f"{t}_true" for t in targets})
    predicted = predictions[["id", *targets]].rename(columns={t: f"{t}_pred" for t in targets})
    clips = known.merge(predicted, on="id", how="inner", validate="one_to_one")
    missing = known["id"][~known["id"].isin(predicted["id"])]
    extra = predicted["id"][~predicted["id"].isin(known["id"])]
    if clips.empty:
        raise ClapmosError(
            f"no id of {path} is in {truth.source}: the file has e.g. {_examples(predicted['id'])}, "
            f"the truth has e.g. {_examples(known['id'])}. Check that both belong to the same split and corpus."
        )
    if len(missing) or len(extra):
        warnings.warn(
            f"evaluating only the {len(clips)} clips present in both {path} and {truth.source}: "
            f"{len(missing)} truth clip(s) have no prediction{_examples(missing, prefix=' (e.g. ')}, "
            f"{len(extra)} predicted id(s) are not in the truth{_examples(extra, prefix=' (e.g. ')}",
            EvaluationWarning,
            stacklevel=3,
        )
    clips = clips[["id", "system", *np.ravel([[f"{t}_true", f"{t}_pred"] for t in targets])]]
    return clips, len(missing), len(extra)


def _examples(ids: pd.Series, prefix: str = "") -> str:
    if ids.empty:
        return ""
    shown = ", ".join(map(str, ids.iloc[:SHOWN_IDS]))
    return f"{prefix}{shown})" if prefix else shown
