"""The challenge metrics as scikit-learn scorers, for ``cross_validate`` and ``GridSearchCV``.

A scorer returns exactly the value :func:`clapmos.evaluation.metrics.score` reports for the same
fold. System-level scorers need every clip's system id; it reaches them through
scikit-learn's metadata routing as the ``systems`` parameter:

>>> import numpy as np, sklearn
>>> from sklearn.linear_model import Ridge
>>> from sklearn.model_selection import cross_validate
>>> rng = np.random.default_rng(0)
>>> X, systems = rng.normal(size=(60, 3)), np.repeat([f"S{i}" for i in range(12)], 5)
>>> y = X @ [1.0, 0.5, 0.0] + rng.normal(scale=0.1, size=60)
>>> with sklearn.config_context(enable_metadata_routing=True):
...     cv = cross_validate(Ridge(), X, y, cv=3, params={"systems": systems},
...                         scoring={"srcc": SCORERS["system_srcc"], "mse": SCORERS["neg_utterance_mse"]})
>>> bool(cv["test_srcc"].min() > 0.5)
True

Error metrics follow scikit-learn's convention that greater is better: the MSE scorers
return minus the MSE (hence their ``neg_`` names).
"""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn.metrics import make_scorer

from clapmos.embed.errors import ClapmosError
from clapmos.embed.corpora.formats import SONGEVAL_TOP_TIER
from clapmos.evaluation.metrics import LEVELS, METRICS, score
from clapmos.evaluation.top_tier import top_tier_f1


def challenge_metric(y_true, y_pred, *, metric: str, level: str, target: int | str | None = None, systems=None) -> float:
    """One number of :func:`~clapmos.evaluation.metrics.score`: ``metric`` at ``level`` for ``target``.

    With several targets and ``target=None`` the mean over targets is returned (NaN if
    any is NaN). ``target`` is a column position or, for DataFrame input, a column name.

    >>> challenge_metric([1.0, 2.0, 3.0], [1.0, 3.0, 2.0], metric="SRCC", level="utterance")
    0.5
    """
    if level == "system" and systems is None:
        raise ClapmosError(
            "a system-level scorer needs the clips' system ids: enable metadata routing "
            "(sklearn.set_config(enable_metadata_routing=True)) and pass params={'systems': systems}"
        )
    results = score(y_true, y_pred, systems=systems if level == "system" else None)
    rows = results[(results["level"] == level) & (results["metric"] == metric)]
    if target is not None:
        names = list(rows["target"])
        rows = rows[rows["target"] == (names[target] if isinstance(target, int) else target)]
        if rows.empty:
            raise ValueError(f"no target {target!r}; the targets are {names}")
    return float(np.mean(rows["value"].to_numpy()))


def make_clapmos_scorer(metric: str = "SRCC", level: str = "utterance", target: int | str | None = None):
    """A scikit-learn scorer for one challenge metric at one level.

    System-level scorers request the ``systems`` metadata (utterance-level ones ignore it,
    so both kinds can share one ``scoring`` dict). MSE scorers return ``-MSE``.

    >>> make_clapmos_scorer("SRCC", "system")
    make_scorer(challenge_metric, response_method='predict', metric=SRCC, level=system, target=None)
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose one of {LEVELS}")
    scorer = make_scorer(challenge_metric, greater_is_better=metric != "MSE", metric=metric, level=level, target=target)
    # The request is stored on the scorer; scikit-learn only allows setting it while routing is on.
    with sklearn.config_context(enable_metadata_routing=True):
        scorer.set_score_request(systems=level == "system")
    return scorer


SCORERS = {
    f"{'neg_' if metric == 'MSE' else ''}{level}_{metric.lower()}": make_clapmos_scorer(metric, level)
    for level in LEVELS
    for metric in METRICS
}
"""Ready scorers by name: ``utterance_srcc``, ``system_srcc``, ``neg_system_mse``, … (mean over targets)."""

TOP_TIER_SCORERS = {
    f"utterance_tta_{target}": make_scorer(top_tier_f1, threshold=threshold) for target, threshold in SONGEVAL_TOP_TIER.items()
}
"""SongEval's Top-Tier Accuracy of one dimension (one target) at its published threshold: ``utterance_tta_musicality``, …"""
