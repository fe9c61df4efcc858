"""Top-Tier Accuracy (TTA) of the ICASSP 2026 song aesthetics challenge: an F1 score per dimension.

A song is "top" when its score is at or above the dimension's threshold (rules of 2025-11-15:
Coherence 4.0, Memorability 3.75, Naturalness 4.0, Clarity 3.75, Musicality 4.0). The same
threshold is applied to the true and to the predicted score (the site does not say how the
predicted top set is formed; participants' code does this). With TP, FP, FN counted over the
clips, P = TP/(TP+FP), R = TP/(TP+FN) and F1 = 2PR/(P+R), which equals 2TP/(2TP+FP+FN)
wherever P and R are defined; that form is used, so a side with no top song gives F1 = 0
when the other side has one. When neither side has a top song F1 is undefined: NaN with an
:class:`~clapmos.evaluation.metrics.EvaluationWarning`. ``epsilon=1e-8`` reproduces the
participants' code instead (1e-8 added to each denominator, 0 for that case).

**Intervals** (:func:`top_tier_draws`, used by ``evaluate``): the clips are resampled as for
every other metric (systems then their clips at the system level) and the same thresholds are
applied in every draw. A draw in which neither side has a top clip gets F1 = 0, the value of the
participants' form, rather than being left out, so the interval is not conditioned on draws
that happen to hold a top song; when the scored clips themselves hold none (TTA is NaN) the
interval is NaN too.

>>> top_tier_f1([4.2, 3.0, 4.5, 2.0], [4.0, 4.1, 3.9, 1.0], threshold=4.0)
0.5
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from clapmos.embed.corpora.formats import SONGEVAL_TOP_TIER
from clapmos.evaluation.bootstrap import Vectorised
from clapmos.evaluation.metrics import LEVELS, RESULT_COLUMNS, EvaluationWarning


def top_tier_f1(y_true, y_pred, threshold: float, epsilon: float = 0.0) -> float:
    """F1 of "score ≥ ``threshold``" of the predictions against the truth (see the module docstring)."""
    true = np.asarray(y_true, dtype=float) >= threshold
    pred = np.asarray(y_pred, dtype=float) >= threshold
    tp, fp, fn = int((true & pred).sum()), int((~true & pred).sum()), int((true & ~pred).sum())
    if epsilon:
        precision, recall = tp / (tp + fp + epsilon), tp / (tp + fn + epsilon)
        return float(2 * precision * recall / (precision + recall + epsilon))
    if tp + fp + fn == 0:
        warnings.warn(
            f"Top-Tier F1 at {threshold:g}: no clip is at or above the threshold in truth or prediction; TTA is NaN",
            EvaluationWarning,
            stacklevel=2,
        )
        return float("nan")
    return 2 * tp / (2 * tp + fp + fn)


def top_tier_metrics(thresholds: dict[str, float] | None = None) -> dict[str, Callable[..., float]]:
    """Plain ``(y_true, y_pred) -> float`` functions, one per dimension: ``TTA_<target>``.

    >>> sorted(top_tier_metrics())[:2]
    ['TTA_clarity', 'TTA_coherence']
    """
    thresholds = SONGEVAL_TOP_TIER if thresholds is None else thresholds
    return {f"TTA_{target}": functools.partial(top_tier_f1, threshold=value) for target, value in thresholds.items()}


def top_tier_draws(true: np.ndarray, pred: np.ndarray, threshold: float) -> np.ndarray:
    """Top-Tier F1 of every row of two ``(draws, clips)`` arrays; 0 for a row with no top clip on either side.

    >>> top_tier_draws(np.array([[4.2, 3.0], [1.0, 2.0]]), np.array([[4.0, 4.1], [1.0, 1.0]]), 4.0)
    array([0.66666667, 0.        ])
    """
    top_true, top_pred = np.asarray(true) >= threshold, np.asarray(pred) >= threshold
    tp = (top_true & top_pred).sum(axis=1)
    wrong = (top_true ^ top_pred).sum(axis=1)  # FP + FN
    denominator = 2 * tp + wrong
    return np.divide(2.0 * tp, denominator, out=np.zeros(len(denominator)), where=denominator > 0)


def top_tier_interval_metrics(thresholds: dict[str, float] | None = None) -> dict[str, dict[str, Vectorised]]:
    """``{target: {"TTA": draws → F1}}`` for :func:`clapmos.evaluation.intervals.metric_intervals`'s ``per_target``.

    >>> sorted(top_tier_interval_metrics()["clarity"])
    ['TTA']
    """
    thresholds = SONGEVAL_TOP_TIER if thresholds is None else thresholds
    return {target: {"TTA": Vectorised(functools.partial(top_tier_draws, threshold=value))} for target, value in thresholds.items()}


#: the registry entries: Top-Tier F1 of each SongEval dimension at its published threshold
TOP_TIER_METRICS = top_tier_metrics()


def top_tier_results(
    true: pd.DataFrame, pred: pd.DataFrame, systems: np.ndarray | None, thresholds: dict[str, float], existing: pd.DataFrame
) -> pd.DataFrame:
    """Rows of the tidy results for TTA (utterance and system level, where the data have
    systems) of the targets with a threshold, and the 5-dimension means of LCC, SRCC, KTAU
    and TTA (target ``mean``) when every dimension was scored, as participants report them.

    ``existing`` holds the :func:`~clapmos.evaluation.metrics.score` rows of the same data.
    """
    from clapmos.evaluation.metrics import system_means

    rows = []
    for target in [t for t in true.columns if t in thresholds]:
        t, p = true[target].to_numpy(float), pred[target].to_numpy(float)
        paired = ~(np.isnan(t) | np.isnan(p))
        rows.append(("utterance", target, "TTA", top_tier_f1(t[paired], p[paired], thresholds[target]), int(paired.sum())))
        if systems is not None:
            known = paired & ~pd.isna(systems)
            st, sp = system_means(t[known], systems[known]), system_means(p[known], systems[known])
            rows.append(("system", target, "TTA", top_tier_f1(st.to_numpy(), sp.to_numpy(), thresholds[target]), len(st)))
    table = pd.concat([existing, pd.DataFrame(rows, columns=RESULT_COLUMNS)], ignore_index=True)
    if set(thresholds) <= set(true.columns) and len(thresholds) > 1:
        dims = table[table["target"].isin(list(thresholds)) & table["metric"].isin(["LCC", "SRCC", "KTAU", "TTA"])]
        means = dims.groupby(["level", "metric"], sort=False).agg(value=("value", "mean"), n=("n", "max")).reset_index()
        means.insert(1, "target", "mean")
        table = pd.concat([table, means[RESULT_COLUMNS]], ignore_index=True)
    order = {level: i for i, level in enumerate(LEVELS)}
    return table.sort_values("level", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
