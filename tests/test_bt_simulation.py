"""The ``bt`` head on simulations whose truth is known: votes follow a Bradley–Terry model of a
linear clip quality, P(A preferred) = σ(γ·(q_A − q_B)).

* from comparisons only, the head recovers the quality ranking of unseen clips;
* when ratings and comparisons are both scarce, learning from both beats either alone;
* the votes of held-out rows never reach training (fold slicing), and ties count as half.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from clapmos.heads.bt import BradleyTerryRegressor
from clapmos.heads.inputs.comparisons import comparison_arrays, pairs_within


def simulate(seed: int, n: int = 160, d: int = 20, n_rated: int = 20, n_votes: int = 30, noise: float = 0.5, gamma: float = 2.0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d) / np.sqrt(d)
    X, X_new = rng.normal(size=(n, d)), rng.normal(size=(400, d))
    quality, quality_new = X @ w, X_new @ w
    y = np.full(n, np.nan)
    rated = rng.choice(n, n_rated, replace=False)
    y[rated] = 3 + quality[rated] + rng.normal(scale=noise, size=n_rated)
    a = rng.integers(0, n, n_votes)
    b = (a + rng.integers(1, n, n_votes)) % n
    p = 1 / (1 + np.exp(-gamma * (quality[a] - quality[b])))
    votes = np.where(rng.random(n_votes) < p, "A", "B")
    items, opponents, outcomes = comparison_arrays(a, b, votes, n)
    pairs = {"pair_items": items, "pair_opponents": opponents, "pair_outcomes": outcomes}
    return X, y, pairs, X_new, quality_new


def srcc(model, X_new, quality_new) -> float:
    return spearmanr(model.predict(X_new), quality_new).statistic


def test_comparisons_only_recover_the_quality_ranking_of_unseen_clips():
    X, _, pairs, X_new, quality_new = simulate(0, n=200, d=10, n_votes=1500)
    model = BradleyTerryRegressor().fit(X, np.full(len(X), np.nan), **pairs)
    assert model.n_votes_ == 1500
    assert srcc(model, X_new, quality_new) > 0.95


def test_ratings_and_comparisons_together_beat_either_alone_when_both_are_scarce():
    results = {"ratings": [], "comparisons": [], "both": []}
    for seed in range(6):
        X, y, pairs, X_new, quality_new = simulate(seed)
        results["ratings"].append(srcc(BradleyTerryRegressor().fit(X, y), X_new, quality_new))
        results["comparisons"].append(srcc(BradleyTerryRegressor().fit(X, np.full(len(X), np.nan), **pairs), X_new, quality_new))
        results["both"].append(srcc(BradleyTerryRegressor().fit(X, y, **pairs), X_new, quality_new))
    mean = {k: float(np.mean(v)) for k, v in results.items()}
    assert mean["both"] > max(mean["ratings"], mean["comparisons"]) + 0.05, mean


def test_with_ratings_the_scores_are_on_the_rating_scale():
    X, y, pairs, X_new, quality_new = simulate(1, n_rated=150, n_votes=300)
    model = BradleyTerryRegressor().fit(X, y, **pairs)
    assert abs(np.mean(model.predict(X_new)) - 3.0) < 0.3  # ratings are 3 + quality
    assert model.scale_ > 0


def test_votes_with_a_held_out_clip_are_not_used():
    items, opponents, outcomes = comparison_arrays([0, 1, 2], [1, 2, 3], ["A", "TIE", "B"], n_items=4)
    a, b, share = pairs_within(items[[0, 1, 2]], opponents[[0, 1, 2]], outcomes[[0, 1, 2]])  # row 3 held out
    assert (a.tolist(), b.tolist(), share.tolist()) == ([0, 1], [1, 2], [1.0, 0.5])


def test_a_tie_is_half_a_win_each_way():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    a, b = rng.integers(0, 30, 80), rng.integers(0, 30, 80)
    ties = comparison_arrays(a, b, ["TIE"] * 80, 30)
    halves = comparison_arrays(np.r_[a, a], np.r_[b, b], ["A"] * 80 + ["B"] * 80, 30)
    y = rng.normal(size=30)
    # the same likelihood up to a factor 2 on the vote term: equal with pair_weight doubled for the ties
    first = BradleyTerryRegressor(pair_weight=2.0).fit(X, y, pair_items=ties[0], pair_opponents=ties[1], pair_outcomes=ties[2])
    second = BradleyTerryRegressor().fit(X, y, pair_items=halves[0], pair_opponents=halves[1], pair_outcomes=halves[2])
    np.testing.assert_allclose(first.predict(X), second.predict(X), atol=1e-4)


def test_nothing_to_learn_from_is_an_error():
    with pytest.raises(ValueError, match="nothing to learn from"):
        BradleyTerryRegressor().fit(np.eye(3), np.full(3, np.nan))
