"""Is one predictor better than another on the same clips? Paired bootstrap differences with Holm's correction.

For each metric, level and target, the *same* bootstrap draws (clip level, or two-level
system/clip, :mod:`clapmos.evaluation.intervals`) are applied to every predictor, and each
draw gives metric(A) − metric(B). Reported per pair: the difference on all clips, its
percentile interval, the share of draws in which A is ahead (better: higher correlation,
lower MSE; ties count half) and a two-sided bootstrap p-value, 2·min(share, 1 − share), the
smallest error rate at which the percentile interval would exclude 0. With several pairs the
p-values of each metric, level and target are adjusted by Holm's step-down method (Holm
1979), and a difference is *established* when its adjusted p-value is below 1 − confidence.

>>> rng = np.random.default_rng(0)
>>> truth = pd.DataFrame({"overall": rng.normal(size=300)})
>>> good = truth + 0.3 * rng.normal(size=(300, 1)); poor = truth + 1.5 * rng.normal(size=(300, 1))
>>> table = compare_predictions(truth, {"good": good, "poor": poor}, metrics=["SRCC"], settings=BootstrapSettings(500))
>>> table[["a", "b", "metric", "share_a_ahead", "established"]].to_dict("records")
[{'a': 'good', 'b': 'poor', 'metric': 'SRCC', 'share_a_ahead': 1.0, 'established': True}]
>>> holm([0.01, 0.04, 0.03]).round(3).tolist()
[0.03, 0.06, 0.06]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from clapmos.evaluation.bootstrap import LOWER_IS_BETTER, MetricFunction, batched, percentile_interval
from clapmos.evaluation.intervals import BootstrapSettings, level_samples
from clapmos.evaluation.metrics import METRICS

PAIRED_COLUMNS = ["level", "target", "metric", "a", "b", "value_a", "value_b", "difference", "low", "high",
                  "share_a_ahead", "p_value", "p_holm", "established", "n"]


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count).

    The i-th smallest of m p-values is multiplied by m − i + 1; the running maximum keeps the
    order, and 1 caps it.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    known = np.flatnonzero(~np.isnan(p))
    order = known[np.argsort(p[known], kind="stable")]
    m = len(order)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    return adjusted


def share_ahead(first: np.ndarray, second: np.ndarray, lower_is_better: bool = False) -> float:
    """Share of draws in which ``first`` is better than ``second`` (ties count half; NaN draws left out)."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    finite = np.isfinite(first) & np.isfinite(second)
    if not finite.any():
        return float("nan")
    a, b = (second, first) if lower_is_better else (first, second)
    return float(np.mean(a[finite] > b[finite]) + 0.5 * np.mean(a[finite] == b[finite]))


def compare_predictions(
    y_true: pd.DataFrame,
    predictions: Mapping[str, pd.DataFrame],
    systems: Sequence | np.ndarray | None = None,
    *,
    groups: Sequence | np.ndarray | None = None,
    system_truth: pd.DataFrame | None = None,
    settings: BootstrapSettings = BootstrapSettings(),
    metrics: Sequence[str] | Mapping[str, MetricFunction] = METRICS,
) -> pd.DataFrame:
    """Every pair of ``predictions`` (name → DataFrame of the ``y_true`` columns, row for row) on the same draws.

    Columns :data:`PAIRED_COLUMNS`; a pair's clips are those where the truth and both
    predictions are known.
    """
    if len(predictions) < 2:
        raise ValueError(f"need at least two predictions to compare, got {len(predictions)}")
    functions = dict(metrics) if isinstance(metrics, Mapping) else {m: m for m in metrics}
    rows = []
    for target in y_true.columns:
        given = None if system_truth is None else system_truth[target]
        true = y_true[target].to_numpy(dtype=float)
        for a, b in itertools.combinations(predictions, 2):
            pred_a, pred_b = (predictions[name][target].to_numpy(dtype=float) for name in (a, b))
            both = np.where(np.isnan(pred_b), np.nan, true)  # the clips both predicted
            for sample_a, sample_b in zip(level_samples(both, pred_a, systems, given, groups),
                                          level_samples(both, np.where(np.isnan(pred_a), np.nan, pred_b), systems, given, groups)):
                draws = sample_a.draws(settings.n_draws, settings.seed)
                for name, function in functions.items():
                    rows.append(_pair_row(sample_a, sample_b, draws, name, function, target, a, b, settings.confidence))
    table = pd.DataFrame(rows, columns=PAIRED_COLUMNS)
    for _, index in table.groupby(["level", "target", "metric"], sort=False).groups.items():
        table.loc[index, "p_holm"] = holm(table.loc[index, "p_value"])
    table["established"] = table["p_holm"] < 1 - settings.confidence
    return table


def _pair_row(sample_a, sample_b, draws, name, function, target, a, b, confidence) -> tuple:
    def full(sample) -> float:  # the metric on all clips: one "draw" that takes every clip once
        if sample.level == "system":
            means = [np.bincount(sample.codes, weights=v) / np.bincount(sample.codes) for v in (sample.true, sample.pred)]
            truth = means[0] if sample.given is None else sample.given
            return float(batched(function)(truth[None], means[1][None])[0])
        return float(batched(function)(sample.true[None], sample.pred[None])[0])

    values_a = draws.metric(sample_a.true, sample_a.pred, function, sample_a.given)
    values_b = draws.metric(sample_b.true, sample_b.pred, function, sample_b.given)
    low, high = percentile_interval(values_a - values_b, confidence)
    ahead = share_ahead(values_a, values_b, lower_is_better=name in LOWER_IS_BETTER)
    p_value = min(1.0, 2 * min(ahead, 1 - ahead)) if np.isfinite(ahead) else np.nan
    value_a, value_b = full(sample_a), full(sample_b)
    n = len(np.unique(sample_a.codes)) if sample_a.level == "system" else len(sample_a.true)
    return (sample_a.level, target, name, a, b, value_a, value_b, value_a - value_b, low, high, ahead, p_value, np.nan, False, n)


def paired_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """The comparison as Markdown, one row per pair, level, target and metric."""
    lines = ["| level | target | metric | A | B | value A | value B | A − B (interval) | A ahead | p (Holm) | established |",
             "|---|---|---|---|---|---:|---:|---|---:|---:|---|"]
    for row in table.itertuples(index=False):
        interval = "" if np.isnan(row.low) else f" [{row.low:.{digits}f}, {row.high:.{digits}f}]"
        lines.append(
            f"| {row.level} | {row.target} | {row.metric} | {row.a} | {row.b} | {row.value_a:.{digits}f} | {row.value_b:.{digits}f} | "
            f"{row.difference:+.{digits}f}{interval} | {row.share_a_ahead:.2f} | {row.p_holm:.3f} | {'yes' if row.established else 'not established'} |"
        )
    return "\n".join(lines)
