"""Seen and unseen systems and prompts: the metrics of an evaluated split, separately for what training saw.

MOS predictors lose most on systems absent from training (Cooper et al., arXiv 2110.02635).
When an evaluated split shares systems (or prompts) with the training split, the clips of
systems the training split has (*seen*) and of the others (*unseen*) are scored apart, each
with its bootstrap intervals.

>>> import pandas as pd
>>> clips = pd.DataFrame({"id": list("abcdef"), "system": ["A", "A", "A", "B", "B", "B"],
...                       "overall_true": [1.0, 2.0, 3.0, 1.0, 2.0, 3.0], "overall_pred": [1.1, 2.0, 2.9, 3.0, 1.0, 2.0]})
>>> table = seen_unseen(clips, ["overall"], {"system": {"A"}}, bootstrap=BootstrapSettings(0))
>>> table.query("metric == 'SRCC' and level == 'utterance'")[["by", "subset", "value", "n"]].to_dict("list")
{'by': ['system', 'system'], 'subset': ['seen', 'unseen'], 'value': [1.0, -0.5], 'n': [3, 3]}
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from clapmos.evaluation.intervals import BootstrapSettings, metric_intervals, with_intervals
from clapmos.evaluation.metrics import EvaluationWarning, score


def seen_unseen(
    clips: pd.DataFrame,
    targets: list[str],
    training: Mapping[str, set],
    prompts: pd.Series | None = None,
    bootstrap: BootstrapSettings = BootstrapSettings(),
) -> pd.DataFrame:
    """Metrics of ``clips`` (``id``, ``system``, ``<t>_true``, ``<t>_pred``) split by what ``training`` holds.

    ``training`` maps ``system`` and/or ``prompt`` to the ids the training split has; a
    kind is reported only when the clips share some of them. ``prompts`` gives every clip's
    prompt by id. Columns: ``by`` (system or prompt), ``subset`` (seen, unseen), then those
    of :func:`~clapmos.evaluation.metrics.score` (with ``low`` and ``high`` when drawn).
    """
    keys = {"system": clips["system"].astype(str).to_numpy()}
    if prompts is not None:
        keys["prompt"] = prompts.reindex(clips["id"]).astype(str).to_numpy()
    frames = []
    for by, seen_ids in training.items():
        if by not in keys or not seen_ids:
            continue
        seen = np.isin(keys[by], list(seen_ids))
        if not seen.any():
            continue
        for subset, rows in (("seen", seen), ("unseen", ~seen)):
            if rows.sum() < 2:
                continue
            frames.append(_scored(clips[rows].reset_index(drop=True), targets, bootstrap).assign(by=by, subset=subset))
    if not frames:
        return pd.DataFrame(columns=["by", "subset", "level", "target", "metric", "value", "n"])
    table = pd.concat(frames, ignore_index=True)
    return table[["by", "subset", *[c for c in table.columns if c not in ("by", "subset")]]]


def _scored(clips: pd.DataFrame, targets: list[str], bootstrap: BootstrapSettings) -> pd.DataFrame:
    true = clips[[f"{t}_true" for t in targets]].set_axis(targets, axis=1)
    pred = clips[[f"{t}_pred" for t in targets]].set_axis(targets, axis=1)
    systems = clips["system"].where(clips["system"] != "")
    systems = None if systems.isna().all() else systems.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)  # a subset of one system: its system level is NaN
        results = score(true, pred, systems=systems)
        if bootstrap.n_draws:
            intervals = metric_intervals(true, pred, systems, n_draws=bootstrap.n_draws, confidence=bootstrap.confidence, seed=bootstrap.seed)
            results = with_intervals(results, intervals)
    return results


def seen_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """The seen/unseen metrics as Markdown: one row per grouping, subset, level and target (SRCC and MSE)."""
    lines = ["| by | subset | level | target | SRCC | MSE | N |", "|---|---|---|---|---|---|---:|"]
    for (by, subset, level, target), rows in table.groupby(["by", "subset", "level", "target"], sort=False):
        cells = []
        for metric in ("SRCC", "MSE"):
            row = rows[rows["metric"] == metric].iloc[0]
            interval = f" [{row['low']:.{digits}f}, {row['high']:.{digits}f}]" if "low" in row and np.isfinite(row["low"]) else ""
            cells.append(f"{row['value']:.{digits}f}{interval}")
        lines.append(f"| {by} | {subset} | {level} | {target} | {' | '.join(cells)} | {int(rows['n'].max())} |")
    return "\n".join(lines)
