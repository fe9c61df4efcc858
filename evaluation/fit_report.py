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

from clapmos.evaluation.report import EvaluationReport, evaluate_predictions, write_outputs
from clapmos.evaluation.truth import Truth


def oof_report(oof: pd.DataFrame, targets: list[str], column: str = "{target}_pred", label: str = "") -> EvaluationReport:
    """Score one prediction column per target of the out-of-fold table."""
    truth = Truth(oof[["id", "system", *targets]].fillna({"system": ""}), list(targets), "training split (out-of-fold)")
    predictions = pd.DataFrame({"id": oof["id"], **{t: oof[column.format(target=t)] for t in targets}})
    return evaluate_predictions(predictions, truth, "out-of-fold predictions", label=label or "out-of-fold")


def has_oof(oof: pd.DataFrame, targets: list[str]) -> bool:
    """Whether the run has out-of-fold predictions (not one model per head trained on every row, ``fit --cv 1``)."""
    return any(oof[f"{t}_pred"].notna().any() for t in targets if f"{t}_pred" in oof)


def heads_table(oof: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    """One row per head (and the ensemble) and target: utterance and system MSE and SRCC."""
    heads = sorted({c.split("_pred_", 1)[1] for c in oof.columns if "_pred_" in c})
    rows = []
    for head in [*heads, "ensemble"]:
        column = "{target}_pred" if head == "ensemble" else "{target}_pred_" + head
        present = [t for t in targets if column.format(target=t) in oof]
        if not present:
            continue
        results = oof_report(oof, present, column).results
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
) -> dict:
    """Write ``cv/`` (and ``eval/``) reports and ``metrics.json`` into the run folder; return the metrics.

    ``heads`` and ``train_split`` name the run in the plot titles. A run without out-of-fold
    predictions (``fit --cv 1``: one model per head) writes no ``cv/`` report.
    """
    out_dir = Path(out_dir)
    metrics = {}
    if has_oof(oof, targets):
        cv = oof_report(oof, targets, label=f"{train_split}, out-of-fold" + (f" · {heads}" if heads else ""))
        write_outputs(cv, out_dir / "cv", plots=plots)
        metrics = {"cv": cv.summary()["metrics"], "heads": json.loads(heads_table(oof, targets).to_json(orient="records"))}
    if evaluation is not None:
        write_outputs(evaluation, out_dir / "eval", plots=plots)
        metrics["eval"] = evaluation.summary()["metrics"]
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
