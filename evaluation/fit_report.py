"""What ``cli.py fit`` reports: cross-validated and held-out metrics, per head and for the ensemble.

It takes plain tables (so it never depends on how the heads were fitted):
out-of-fold predictions with ``id``, ``system``, and per target ``<t>`` (truth),
``<t>_pred`` (the ensemble) and optionally ``<t>_pred_<head>`` (each member).

>>> import pandas as pd
>>> oof = pd.DataFrame({"id": list("abcd"), "system": ["S1", "S1", "S2", "S2"],
...                     "overall": [1.0, 2.0, 3.0, 4.0], "overall_pred": [1.5, 2.0, 2.5, 4.5]})
>>> heads_table(oof, ["overall"])[["head", "target", "UTT SRCC"]].to_dict("list")
{'head': ['ensemble'], 'target': ['overall'], 'UTT SRCC': [1.0]}
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from clapmos.evaluation.intervals import BootstrapSettings
from clapmos.evaluation.report import EvaluationReport, evaluate_predictions, write_outputs
from clapmos.evaluation.truth import Truth


def oof_report(
    oof: pd.DataFrame, targets: list[str], column: str = "{target}_pred", label: str = "",
    bootstrap: BootstrapSettings = BootstrapSettings(), corpus: str = "", comparisons: pd.DataFrame | None = None,
) -> EvaluationReport:
    """Score one prediction column per target of the out-of-fold table (with bootstrap intervals unless ``bootstrap``
    has 0 draws; ``corpus`` picks its benchmark's metrics; ``comparisons``, the training split's votes, add the pairwise accuracy)."""
    truth = Truth(oof[["id", "system", *targets]].fillna({"system": ""}), list(targets), "training split (out-of-fold)",
                  corpus=corpus, comparisons=comparisons)
    predictions = pd.DataFrame({"id": oof["id"], **{t: oof[column.format(target=t)] for t in targets}})
    return evaluate_predictions(predictions, truth, "out-of-fold predictions", label=label or "out-of-fold", bootstrap=bootstrap)


def metrics_with_intervals(folder: str | Path) -> pd.DataFrame:
    """A run folder's ``metrics.json`` as one tidy table: ``where`` (cv, eval), ``level``, ``target``, ``metric``,
    ``value``, ``low``, ``high`` (NaN without an interval), ``n``; e.g. for a model card.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "metrics.json").write_text(json.dumps({"cv": {"system": {"overall": {"SRCC": 0.9, "N": 8,
    ...     "interval": {"SRCC": [0.7, 0.97]}}}}}))
    >>> metrics_with_intervals(folder).to_dict("records")
    [{'where': 'cv', 'level': 'system', 'target': 'overall', 'metric': 'SRCC', 'value': 0.9, 'low': 0.7, 'high': 0.97, 'n': 8}]
    """
    metrics = json.loads((Path(folder) / "metrics.json").read_text())
    rows = []
    for where in ("cv", "eval"):
        for level, targets in (metrics.get(where) or {}).items():
            for target, entry in targets.items():
                intervals = entry.get("interval") or {}
                for metric, value in entry.items():
                    if metric in ("N", "interval"):
                        continue
                    low, high = intervals.get(metric) or (math.nan, math.nan)
                    rows.append({"where": where, "level": level, "target": target, "metric": metric,
                                 "value": math.nan if value is None else float(value), "low": low, "high": high, "n": entry.get("N")})
    return pd.DataFrame(rows, columns=["where", "level", "target", "metric", "value", "low", "high", "n"])


def fold_summary(oof: pd.DataFrame, test_fold, group: str) -> dict:
    """What the cross-validation held out: the grouping, and per fold its clips, systems and held-out systems.

    A system is *held out* by a fold when all its clips are in that fold (the fold's models
    never saw it), as with ``--group system``; likewise for prompts (``text``) when known.

    >>> oof = pd.DataFrame({"system": ["A", "A", "B", "B"]})
    >>> fold_summary(oof, [0, 0, 1, 1], "system")["folds"][0]
    {'fold': 0, 'clips': 2, 'systems': 1, 'systems_held_out': 1}
    """
    folds = pd.Series(list(test_fold), index=oof.index)
    rows = []
    for fold in sorted(folds[folds >= 0].unique()):
        held = folds == fold
        row = {"fold": int(fold), "clips": int(held.sum())}
        for column, name in (("system", "systems"), ("text", "prompts")):
            if column in oof and (oof[column].fillna("") != "").all():
                inside, outside = set(oof.loc[held, column]), set(oof.loc[~held & (folds >= 0), column])
                row[name], row[f"{name}_held_out"] = len(inside), len(inside - outside)
        rows.append(row)
    return {"group": group, "folds": rows}


def oof_label(train_split: str, heads: str = "") -> str:
    """What the out-of-fold predictions are, for plot titles."""
    return f"{train_split}, out-of-fold" + (f" · {heads}" if heads else "")


def has_oof(oof: pd.DataFrame, targets: list[str]) -> bool:
    """Whether the run has out-of-fold predictions (not one model per head trained on every row, ``fit --cv 1``)."""
    return any(oof[f"{t}_pred"].notna().any() for t in targets if f"{t}_pred" in oof)


def heads_table(oof: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    """One row per head (and the ensemble) and target: utterance and system MSE and SRCC."""
    heads = sorted({c.split("_pred_", 1)[1] for c in oof.columns if "_pred_" in c})
    rows = []
    if not oof[targets].notna().any().any():  # a run trained on votes only: no rating to score heads against
        return pd.DataFrame(rows)
    for head in [*heads, "ensemble"]:
        column = "{target}_pred" if head == "ensemble" else "{target}_pred_" + head
        present = [t for t in targets if column.format(target=t) in oof]
        if not present:
            continue
        results = oof_report(oof, present, column, bootstrap=BootstrapSettings(0)).results
        for target in present:
            row = {"head": head, "target": target}
            for level, short in (("utterance", "UTT"), ("system", "SYS")):
                for metric in ("MSE", "SRCC"):
                    value = results.query("level == @level and target == @target and metric == @metric")["value"]
                    row[f"{short} {metric}"] = float(value.iloc[0]) if len(value) else math.nan
            rows.append(row)
    return pd.DataFrame(rows)


def heads_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """:func:`heads_table` as Markdown, numbers to ``digits`` decimals."""
    lines = ["| " + " | ".join(table.columns) + " |", "|---" * len(table.columns) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def write_fit_report(
    oof: pd.DataFrame,
    targets: list[str],
    out_dir: str | Path,
    evaluation: EvaluationReport | None = None,
    plots: bool = True,
    heads: str = "",
    train_split: str = "train",
    eval_split: str = "",
    bootstrap: BootstrapSettings = BootstrapSettings(),
    cv_info: dict | None = None,
    cv: EvaluationReport | None = None,
    corpus: str = "",
    comparisons: pd.DataFrame | None = None,
) -> dict:
    """Write ``cv/`` (and ``eval/``) reports and ``metrics.json`` into the run folder; return the metrics.

    ``heads`` and ``train_split`` name the run in the plot titles. ``metrics.json`` names its
    splits (``splits``: what ``cv`` and ``eval`` were computed on), how the intervals were
    drawn (``bootstrap``) and, given ``cv_info``, the grouping of the folds and what each held out.
    ``cv`` is the out-of-fold report when already made (:func:`oof_report`). A run without out-of-fold
    predictions (``fit --cv 1``: one model per head) writes no ``cv/`` report.
    """
    out_dir = Path(out_dir)
    oof_known = has_oof(oof, targets)
    metrics = {
        "splits": {**({"cv": f"{train_split} (out-of-fold)"} if oof_known else {}), **({"eval": eval_split} if evaluation is not None else {})},
        "bootstrap": bootstrap.summary() if bootstrap.n_draws else None,
        **({"folds": cv_info} if cv_info is not None else {}),
    }
    if oof_known:
        if cv is None:
            cv = oof_report(oof, targets, label=oof_label(train_split, heads), bootstrap=bootstrap, corpus=corpus, comparisons=comparisons)
        write_outputs(cv, out_dir / "cv", plots=plots)
        metrics |= {"cv": cv.summary()["metrics"], "heads": json.loads(heads_table(oof, targets).to_json(orient="records"))}
    if evaluation is not None:
        write_outputs(evaluation, out_dir / "eval", plots=plots)
        metrics["eval"] = evaluation.summary()["metrics"]
        if "seen" in evaluation.summary():
            metrics["eval_seen"] = evaluation.summary()["seen"]
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
