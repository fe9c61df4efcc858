"""Pairwise preference metrics: CMI-RewardBench accuracy and Music Arena's Bradley–Terry leaderboard.

**Pairwise accuracy** (CMI-RewardBench ``evaluate_results.py``): the predicted winner is A
when score_A > score_B, else B: equal scores go to B and a tie is never predicted. Labels
are lower-cased and normalised: ``a``/``model_a`` → A, ``b``/``model_b`` → B,
``both``/``neither`` → tie; **any other label (``TIE``, ``BOTH_BAD``, ...) drops the vote**.
A vote scores 1 when label and prediction agree, 0.5 when the label is the tie class, else 0;
the accuracy is the mean over the votes kept (NaN with a warning when none is).

**Bradley–Terry leaderboard** (Music Arena): P(i beats j) = σ(β_i − β_j), fitted by
L2-regularised logistic regression on the votes; a TIE counts as half a win for each side,
BOTH_BAD is left out, and a system needs ``min_votes`` votes to be listed.

**Intervals** (:func:`vote_interval`): percentile bootstrap over the votes the accuracy keeps
(a dropped label is never drawn, so every draw has as many votes as the accuracy counts); each
drawn vote keeps its score under the tie rules (1, 0.5 for the tie class, 0). Votes are
resampled one by one: repeated votes on the same pair count as separate votes, as in the accuracy.

>>> pairwise_accuracy(["model_a", "b", "both", "TIE"], [0.5, 0.0, 1.0, 2.0])
0.8333333333333334
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from clapmos.evaluation.bootstrap import draw_clips, percentile_interval
from clapmos.evaluation.metrics import RESULT_COLUMNS, EvaluationWarning

CMI_LABELS = {"a": "A", "model_a": "A", "b": "B", "model_b": "B", "both": "tie", "neither": "tie"}


def normalise_votes(votes) -> np.ndarray:
    """CMI-RewardBench's label classes, ``A``, ``B`` or ``tie``; ``""`` for a vote it drops."""
    return np.array([CMI_LABELS.get(str(v).strip().lower(), "") for v in votes], dtype=object)


def pairwise_scores(y_true, y_pred) -> np.ndarray:
    """Per vote: 1, 0.5 or 0 (NaN for a dropped label). ``y_true`` are the labels as published,
    ``y_pred`` the predicted score differences score_A − score_B."""
    labels = normalise_votes(y_true)
    diff = np.asarray(y_pred, dtype=float)
    if len(diff) != len(labels):
        raise ValueError(f"{len(labels)} votes but {len(diff)} score differences")
    predicted = np.where(diff > 0, "A", "B")
    scores = np.where(labels == "tie", 0.5, (labels == predicted).astype(float))
    return np.where(labels == "", np.nan, scores)


def pairwise_accuracy(y_true, y_pred) -> float:
    """CMI-RewardBench pairwise accuracy of score differences ``y_pred`` (A − B) against labels ``y_true``."""
    scores = pairwise_scores(y_true, y_pred)
    kept = scores[~np.isnan(scores)]
    if not len(kept):
        warnings.warn("pairwise accuracy: no vote with a label it scores (a, b, model_a, model_b, both, neither); NaN",
                      EvaluationWarning, stacklevel=2)
        return float("nan")
    return float(kept.mean())


def vote_interval(y_true, y_pred, n_draws: int = 1000, confidence: float = 0.95, seed: int | list[int] = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`pairwise_accuracy`, votes resampled with replacement (NaN, NaN without a kept vote).

    >>> vote_interval(["both", "neither"] * 5, [1.0, -1.0] * 5, n_draws=100)  # all ties: every draw scores 0.5
    (0.5, 0.5)
    """
    scores = pairwise_scores(y_true, y_pred)
    kept = scores[~np.isnan(scores)]
    if not len(kept) or not n_draws:
        return float("nan"), float("nan")
    draws = draw_clips(len(kept), n_draws, np.random.default_rng(seed))
    return percentile_interval(kept[draws.clip.reshape(n_draws, -1)].mean(axis=1), confidence)


#: the registry entry: a plain ``(y_true, y_pred)`` function (labels, score differences A − B), resampled by vote
PAIRWISE_METRICS = {"ACC": pairwise_accuracy}


def bradley_terry(system_a, system_b, votes, c: float = 1.0, min_votes: int = 30) -> pd.Series:
    """Bradley–Terry strengths β (mean 0), sorted best first, of the systems with ≥ ``min_votes`` votes.

    ``votes`` are ``A``, ``B``, ``TIE`` or ``BOTH_BAD`` (any case; ``model_a``/``model_b`` read as A/B):
    BOTH_BAD and unknown labels are left out; a TIE is half a win for each side. ``c`` is the
    inverse L2 strength of scikit-learn's :class:`~sklearn.linear_model.LogisticRegression`.

    >>> beta = bradley_terry(["x", "x", "y"] * 20, ["y", "z", "z"] * 20, ["A", "A", "A"] * 20, min_votes=1)
    >>> list(beta.index)
    ['x', 'y', 'z']
    """
    from sklearn.linear_model import LogisticRegression

    labels = np.array([str(v).strip().lower() for v in votes], dtype=object)
    labels = np.where(labels == "model_a", "a", np.where(labels == "model_b", "b", labels))
    keep = np.isin(labels, ["a", "b", "tie"])
    a, b, labels = np.asarray(system_a, dtype=object)[keep], np.asarray(system_b, dtype=object)[keep], labels[keep]
    counts = pd.Series(np.concatenate([a, b])).value_counts()
    listed = sorted(counts.index[counts >= min_votes])
    use = np.isin(a, listed) & np.isin(b, listed) & (a != b)
    a, b, labels = a[use], b[use], labels[use]
    if len(listed) < 2 or not len(a):
        return pd.Series(dtype=float, name="beta")
    column = {s: i for i, s in enumerate(listed)}
    x = np.zeros((len(a), len(listed)))
    x[np.arange(len(a)), [column[s] for s in a]] = 1.0
    x[np.arange(len(a)), [column[s] for s in b]] = -1.0
    share_a = np.where(labels == "tie", 0.5, (labels == "a").astype(float))  # A's share of the win
    design, outcome, weight = np.vstack([x, x]), np.repeat([1.0, 0.0], len(a)), np.concatenate([share_a, 1 - share_a])
    model = LogisticRegression(C=c, fit_intercept=False, tol=1e-10, max_iter=10_000).fit(design, outcome, sample_weight=weight)
    beta = model.coef_[0] - model.coef_[0].mean()
    return pd.Series(beta, index=listed, name="beta").sort_values(ascending=False)


def pairwise_results(comparisons: pd.DataFrame, predictions: pd.DataFrame, n_draws: int = 0, confidence: float = 0.95,
                     seed: int = 0) -> pd.DataFrame:
    """Rows of the tidy results (level ``pairwise``, metric ``ACC``), one per judged dimension;
    with ``n_draws`` also ``low`` and ``high`` (:func:`vote_interval`, seeded by ``seed`` and the dimension's position).

    ``comparisons`` has ``id_a``, ``id_b``, ``vote`` and ``dimension``; ``predictions`` has ``id``
    and score columns. A dimension is scored with the prediction column of its name, else
    ``musicality`` (Music Arena's rule), else the only column; votes of clips without a
    prediction are left out with a warning.
    """
    columns = [c for c in predictions.columns if c not in ("id", "system")]
    score_of = predictions.set_index("id")
    rows = []
    for position, (dimension, votes) in enumerate(comparisons.groupby("dimension", sort=False)):
        column = dimension if dimension in columns else "musicality" if "musicality" in columns else columns[0] if len(columns) == 1 else None
        if column is None:
            warnings.warn(f"pairwise, {dimension}: no prediction column {dimension!r} or musicality; not evaluated",
                          EvaluationWarning, stacklevel=2)
            continue
        known = votes["id_a"].isin(score_of.index) & votes["id_b"].isin(score_of.index)
        if not known.all():
            warnings.warn(f"pairwise, {dimension}: {int((~known).sum())} of {len(votes)} votes have a clip without a "
                          "prediction; left out", EvaluationWarning, stacklevel=2)
        votes = votes[known]
        diff = score_of.loc[votes["id_a"], column].to_numpy(float) - score_of.loc[votes["id_b"], column].to_numpy(float)
        scores = pairwise_scores(votes["vote"], diff)
        interval = vote_interval(votes["vote"], diff, n_draws, confidence, seed=[seed, position]) if n_draws else ()
        rows.append(("pairwise", dimension, "ACC", pairwise_accuracy(votes["vote"], diff), int((~np.isnan(scores)).sum()), *interval))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS + (["low", "high"] if n_draws else []))


def leaderboards(comparisons: pd.DataFrame, predictions: pd.DataFrame, systems: pd.Series, c: float = 1.0,
                 min_votes: int = 30) -> pd.DataFrame:
    """Music Arena's Bradley–Terry leaderboard from the human votes and from the predicted preferences, side by side.

    ``systems`` maps clip id → system. The predicted preference of a vote is A when the predicted
    score of A (the column chosen as in :func:`pairwise_results`) is higher, else B. Columns:
    ``dimension``, ``system``, ``human`` and ``predicted`` (β, mean 0; NaN where a system has
    fewer than ``min_votes`` votes).
    """
    columns = [c for c in predictions.columns if c not in ("id", "system")]
    score_of = predictions.set_index("id")
    tables = []
    for dimension, votes in comparisons.groupby("dimension", sort=False):
        column = dimension if dimension in columns else "musicality" if "musicality" in columns else columns[0] if len(columns) == 1 else None
        votes = votes[votes["id_a"].isin(score_of.index) & votes["id_b"].isin(score_of.index)]
        if column is None or not len(votes):
            continue
        a, b = systems.reindex(votes["id_a"]).to_numpy(), systems.reindex(votes["id_b"]).to_numpy()
        diff = score_of.loc[votes["id_a"], column].to_numpy(float) - score_of.loc[votes["id_b"], column].to_numpy(float)
        human = bradley_terry(a, b, votes["vote"], c=c, min_votes=min_votes)
        predicted = bradley_terry(a, b, np.where(diff > 0, "A", "B"), c=c, min_votes=min_votes)
        table = pd.concat({"human": human, "predicted": predicted}, axis=1).rename_axis("system").reset_index()
        tables.append(table.assign(dimension=dimension)[["dimension", "system", "human", "predicted"]])
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["dimension", "system", "human", "predicted"])
