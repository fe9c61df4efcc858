"""Bootstrap intervals of the benchmarks' own metrics: Top-Tier F1 (clips resampled, the same
thresholds in every draw), the 5-dimension means, CMI-RewardBench pairwise accuracy (votes
resampled under the tie rules) and the Audiobox axes, as ``evaluate`` prints and writes them."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from clapmos.evaluation.intervals import BootstrapSettings, metric_intervals, with_intervals
from clapmos.evaluation.metrics import EvaluationWarning, markdown_table, score
from clapmos.evaluation.pairwise import pairwise_results, vote_interval
from clapmos.evaluation.report import evaluate_predictions
from clapmos.evaluation.top_tier import top_tier_interval_metrics, top_tier_results
from clapmos.evaluation.truth import Truth

THRESHOLDS = {"coherence": 4.0, "memorability": 3.75, "naturalness": 4.0, "clarity": 3.75, "musicality": 4.0}


def reference_f1_or_zero(truth, pred, threshold):
    """F1 = 2PR/(P+R) from the published definition; 0 where P or R is 0 or undefined (the draws' edge value)."""
    tp = sum(t >= threshold and p >= threshold for t, p in zip(truth, pred))
    fp = sum(t < threshold <= p for t, p in zip(truth, pred))
    fn = sum(p < threshold <= t for t, p in zip(truth, pred))
    if tp == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


def tta_interval(true, pred, threshold, n_draws, seed=0, confidence=0.95):
    table = metric_intervals(pd.DataFrame({"d": true}), pd.DataFrame({"d": pred}), n_draws=n_draws, seed=seed, confidence=confidence,
                             metrics=(), per_target=top_tier_interval_metrics({"d": threshold}))
    row = table[(table["level"] == "utterance") & (table["metric"] == "TTA")].iloc[0]
    return row["low"], row["high"]


# --------------------------------------------------------------------------- Top-Tier F1
def test_tta_interval_is_the_percentile_interval_of_the_f1_of_resampled_clips_with_zero_for_a_draw_without_top_clips():
    # one top clip in truth, predicted top: a draw that misses it has no top clip on either side (F1 = 0 there)
    truth = np.array([4.5, 3.0, 2.0, 3.5, 1.0, 2.5])
    pred = np.array([4.2, 3.9, 2.0, 3.0, 1.5, 4.1])
    n_draws, seed = 400, 7
    index = np.random.default_rng([seed, 0]).integers(0, len(truth), size=(n_draws, len(truth)))  # the utterance level's draws
    values = [reference_f1_or_zero(truth[i], pred[i], 4.0) for i in index]
    assert min(values) == 0.0 and sum(v == 0.0 for v in values) > 50  # the edge case happens, and counts
    expected = np.quantile(values, [0.025, 0.975])
    np.testing.assert_allclose(tta_interval(truth, pred, 4.0, n_draws, seed), expected, atol=1e-12)


def test_tta_interval_covers_the_population_f1_in_about_95_percent_of_simulated_datasets():
    rng = np.random.default_rng(0)

    def songs(n):
        quality = rng.normal(3.4, 0.6, size=n)
        return quality, quality + rng.normal(0, 0.45, size=n)

    big_true, big_pred = songs(2_000_000)  # the population F1 from its definition: 2 P(both top) / (2 P(both) + P(one side only))
    top_t, top_p = big_true >= 4.0, big_pred >= 4.0
    population = 2 * np.mean(top_t & top_p) / (2 * np.mean(top_t & top_p) + np.mean(top_t ^ top_p))
    assert 0.5 < population < 0.8
    hits = []
    for k in range(120):
        true, pred = songs(250)
        low, high = tta_interval(true, pred, 4.0, n_draws=400, seed=k)
        hits.append(low <= population <= high)
    assert 0.87 <= np.mean(hits) <= 1.0


def test_tta_intervals_are_deterministic_for_a_seed():
    rng = np.random.default_rng(1)
    true = rng.integers(4, 21, size=80) / 4
    pred = true + rng.normal(scale=0.6, size=80)
    assert tta_interval(true, pred, 4.0, 300, seed=3) == tta_interval(true, pred, 4.0, 300, seed=3)
    assert tta_interval(true, pred, 4.0, 300, seed=3) != tta_interval(true, pred, 4.0, 300, seed=4)


def test_the_five_dimension_means_get_the_interval_of_the_per_draw_mean():
    rng = np.random.default_rng(2)
    true = pd.DataFrame(rng.integers(4, 21, size=(50, 5)) / 4, columns=list(THRESHOLDS))
    pred = true + rng.normal(scale=0.5, size=true.shape)
    table = metric_intervals(true, pred, n_draws=300, seed=5, metrics=("LCC",), per_target=top_tier_interval_metrics(THRESHOLDS),
                             mean_of=list(THRESHOLDS)).set_index(["level", "target", "metric"])
    index = np.random.default_rng([5, 0]).integers(0, 50, size=(300, 50))  # the same clips drawn for every dimension
    per_draw = [np.mean([reference_f1_or_zero(true[d].to_numpy()[i], pred[d].to_numpy()[i], t) for d, t in THRESHOLDS.items()])
                for i in index]
    np.testing.assert_allclose(table.loc[("utterance", "mean", "TTA"), ["low", "high"]].to_numpy(float),
                               np.quantile(per_draw, [0.025, 0.975]), atol=1e-12)
    lcc = [np.mean([np.corrcoef(true[d].to_numpy()[i], pred[d].to_numpy()[i])[0, 1] for d in THRESHOLDS]) for i in index]
    np.testing.assert_allclose(table.loc[("utterance", "mean", "LCC"), ["low", "high"]].to_numpy(float),
                               np.quantile(lcc, [0.025, 0.975]), atol=1e-9)
    # dimensions scored on different clips are not drawn alike: no interval of their mean
    true.iloc[0, 0] = np.nan
    table = metric_intervals(true, pred, n_draws=50, metrics=("LCC",), mean_of=list(THRESHOLDS))
    assert "mean" not in set(table["target"])


def test_a_tta_that_is_not_defined_gets_no_interval():
    true = pd.DataFrame({"musicality": [2.0, 3.0, 3.5, 1.0]})  # no top clip in truth or prediction
    pred = pd.DataFrame({"musicality": [2.5, 3.0, 3.0, 2.0]})
    with pytest.warns(EvaluationWarning, match="no clip is at or above"):
        results = top_tier_results(true, pred, None, {"musicality": 4.0}, score(true, pred))
    intervals = metric_intervals(true, pred, n_draws=100, per_target=top_tier_interval_metrics({"musicality": 4.0}))
    table = with_intervals(results, intervals).set_index("metric")
    assert math.isnan(table.at["TTA", "value"]) and math.isnan(table.at["TTA", "low"]) and math.isnan(table.at["TTA", "high"])
    assert table.at["MSE", "low"] <= table.at["MSE", "value"] <= table.at["MSE", "high"]


# --------------------------------------------------------------------------- pairwise accuracy
def reference_vote_scores(labels, diff):
    """CMI-RewardBench's rules: a/model_a, b/model_b, both/neither (tie, 0.5); others dropped; A iff diff > 0."""
    classes = {"a": "A", "model_a": "A", "b": "B", "model_b": "B", "both": "T", "neither": "T"}
    scores = []
    for label, d in zip(labels, diff):
        norm = classes.get(label.lower())
        if norm is not None:
            scores.append(0.5 if norm == "T" else float(norm == ("A" if d > 0 else "B")))
    return np.array(scores)


def test_vote_interval_resamples_the_kept_votes_with_their_tie_scores():
    rng = np.random.default_rng(4)
    labels = rng.choice(["model_a", "model_b", "both", "TIE", "BOTH_BAD"], size=70)
    diff = rng.integers(-1, 2, size=70).astype(float)  # equal scores go to B
    kept = reference_vote_scores(labels, diff)
    index = np.random.default_rng(11).integers(0, len(kept), size=(500, len(kept)))
    expected = np.quantile(kept[index].mean(axis=1), [0.05, 0.95])
    np.testing.assert_allclose(vote_interval(labels, diff, 500, 0.9, seed=11), expected, atol=1e-12)


def test_vote_interval_covers_the_population_accuracy_in_about_95_percent_of_simulated_datasets():
    rng = np.random.default_rng(0)
    # per vote: 10 % tie class (scores 0.5), 10 % TIE/BOTH_BAD (dropped), else A/B predicted right with probability 0.7
    population = (0.1 * 0.5 + 0.8 * 0.7) / 0.9
    hits = []
    for k in range(150):
        kind = rng.choice(["tie", "dropped", "vote"], p=[0.1, 0.1, 0.8], size=200)
        winner = rng.choice(["model_a", "model_b"], size=200)
        right = rng.random(200) < 0.7
        labels = np.where(kind == "tie", "both", np.where(kind == "dropped", rng.choice(["TIE", "BOTH_BAD"], size=200), winner))
        sign = np.where(winner == "model_a", 1.0, -1.0) * np.where(right, 1.0, -1.0)
        low, high = vote_interval(labels, sign * rng.uniform(0.1, 1.0, size=200), n_draws=400, seed=k)
        hits.append(low <= population <= high)
    assert 0.87 <= np.mean(hits) <= 1.0


def test_vote_interval_edge_cases_and_determinism():
    assert vote_interval(["both", "neither", "both"], [1.0, -2.0, 0.0], n_draws=200) == (0.5, 0.5)  # all ties
    assert vote_interval(["model_a"] * 4, [0.0] * 4, n_draws=200) == (0.0, 0.0)  # constant predictions: always B
    assert all(math.isnan(v) for v in vote_interval(["TIE", "BOTH_BAD"], [1.0, -1.0], n_draws=200))  # every label dropped
    labels, diff = ["a", "b", "b", "a", "both"] * 6, np.linspace(-1, 1, 30)
    assert vote_interval(labels, diff, 300, seed=2) == vote_interval(labels, diff, 300, seed=2)
    assert vote_interval(labels, diff, 300, seed=2) != vote_interval(labels, diff, 300, seed=3)


def test_pairwise_results_and_evaluate_carry_the_interval_of_each_dimension():
    rng = np.random.default_rng(6)
    ids = [f"c{i}" for i in range(20)]
    predictions = pd.DataFrame({"id": ids, "musicality": rng.normal(size=20), "alignment": rng.normal(size=20)})
    a, b = rng.choice(ids, size=120), rng.choice(ids, size=120)
    votes = pd.DataFrame({"id_a": a, "id_b": b, "vote": rng.choice(["model_a", "model_b", "both", "TIE"], size=120),
                          "dimension": np.repeat(["musicality", "alignment"], 60)})
    table = pairwise_results(votes, predictions, n_draws=300, seed=9).set_index("target")
    score_of = predictions.set_index("id")
    for position, dimension in enumerate(["musicality", "alignment"]):
        rows = votes[votes["dimension"] == dimension]
        diff = score_of.loc[rows["id_a"], dimension].to_numpy() - score_of.loc[rows["id_b"], dimension].to_numpy()
        assert (table.at[dimension, "low"], table.at[dimension, "high"]) == vote_interval(rows["vote"], diff, 300, seed=[9, position])
        assert table.at[dimension, "low"] <= table.at[dimension, "value"] <= table.at[dimension, "high"]
    truth = Truth(pd.DataFrame({"id": ids, "system": "", "musicality": np.nan, "alignment": np.nan}), ["musicality", "alignment"],
                  "votes", comparisons=votes)
    report = evaluate_predictions(predictions, truth, bootstrap=BootstrapSettings(300, 0.95, 9))
    pd.testing.assert_frame_equal(report.results.reset_index(drop=True), table.reset_index()[report.results.columns])
    assert "[" in markdown_table(report.results)  # printed with its interval
    assert report.summary()["metrics"]["pairwise"]["musicality"]["interval"]["ACC"] == [table.at["musicality", "low"],
                                                                                          table.at["musicality", "high"]]


# --------------------------------------------------------------------------- evaluate: every row has its interval
def test_evaluate_gives_songeval_and_audiobox_rows_an_interval_each():
    rng = np.random.default_rng(8)
    n = 60
    songs = pd.DataFrame(rng.integers(4, 21, size=(n, 5)) / 4, columns=list(THRESHOLDS))
    clips = pd.concat([pd.DataFrame({"id": [f"s{i}" for i in range(n)], "system": np.repeat(list("ABCDEF"), 10)}), songs], axis=1)
    predictions = clips[["id"]].assign(**{d: songs[d] + rng.normal(scale=0.4, size=n) for d in THRESHOLDS})
    predictions.iloc[:10, 1:] += 1.5  # system A predicted top: every system-level TTA is defined
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        report = evaluate_predictions(predictions, Truth(clips, list(THRESHOLDS), "songeval", corpus="songeval"),
                                      bootstrap=BootstrapSettings(200, 0.95, 0))
    tta = report.results[report.results["metric"] == "TTA"]
    assert len(tta) == 12 and set(tta["target"]) == {*THRESHOLDS, "mean"}
    defined = report.results.dropna(subset=["value"])
    assert defined[["low", "high"]].notna().all().all()
    assert ((defined["low"] <= defined["value"] + 1e-9) & (defined["value"] <= defined["high"] + 1e-9)).all()
    axes = ["PQ", "PC", "CE", "CU"]
    ratings = pd.DataFrame(rng.uniform(0, 10, size=(n, 4)), columns=axes)
    truth = Truth(pd.concat([clips[["id", "system"]], ratings], axis=1), axes, "aes", corpus="audiobox-aes")
    predicted = clips[["id"]].assign(**{a: ratings[a] + rng.normal(size=n) for a in axes})
    report = evaluate_predictions(predicted, truth, bootstrap=BootstrapSettings(200, 0.95, 0))
    assert len(report.results) == 2 * 4 * 4 and report.results[["low", "high"]].notna().all().all()
