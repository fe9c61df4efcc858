"""Top-Tier Accuracy, CMI-RewardBench pairwise accuracy and the Bradley–Terry leaderboard against
independent implementations of their published definitions (DATA.md §4, §6), edge cases included."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from clapmos.evaluation.metrics import EvaluationWarning
from clapmos.evaluation.pairwise import bradley_terry, pairwise_accuracy, pairwise_results
from clapmos.evaluation.top_tier import TOP_TIER_METRICS, top_tier_f1, top_tier_results

THRESHOLDS = {"coherence": 4.0, "memorability": 3.75, "naturalness": 4.0, "clarity": 3.75, "musicality": 4.0}


def reference_f1(truth, pred, threshold):
    """The site's definition: top = score ≥ threshold on both sides; P, R, F1 = 2PR/(P+R)."""
    tp = sum(t >= threshold and p >= threshold for t, p in zip(truth, pred))
    fp = sum(t < threshold and p >= threshold for t, p in zip(truth, pred))
    fn = sum(t >= threshold and p < threshold for t, p in zip(truth, pred))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    if precision is None and recall is None:
        return math.nan
    if not precision or not recall:  # one side has no top song, or none agree
        return 0.0
    return 2 * precision * recall / (precision + recall)


def participants_f1(truth, pred, threshold):
    """EAR_HEAR utils.py: 1e-8 added to each denominator."""
    t, p = np.asarray(truth) >= threshold, np.asarray(pred) >= threshold
    tp, fp, fn = np.sum(t & p), np.sum(~t & p), np.sum(t & ~p)
    precision, recall = tp / (tp + fp + 1e-8), tp / (tp + fn + 1e-8)
    return 2 * precision * recall / (precision + recall + 1e-8)


def test_the_published_thresholds_are_registered():
    assert {name: f.keywords["threshold"] for name, f in TOP_TIER_METRICS.items()} == {f"TTA_{k}": v for k, v in THRESHOLDS.items()}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [3.75, 4.0])
def test_top_tier_f1_equals_the_definition(seed, threshold):
    rng = np.random.default_rng(seed)
    truth = rng.integers(4, 21, size=40) / 4  # quarter points: many scores exactly at the threshold
    pred = np.clip(truth + rng.normal(scale=0.6, size=40), 1, 5)
    assert top_tier_f1(truth, pred, threshold) == pytest.approx(reference_f1(truth, pred, threshold), abs=1e-12)
    assert top_tier_f1(truth, pred, threshold, epsilon=1e-8) == pytest.approx(participants_f1(truth, pred, threshold), abs=1e-12)


def test_top_tier_edge_cases():
    truth = np.array([2.0, 3.0, 3.5])  # no positive clip
    assert top_tier_f1(truth, [4.0, 1.0, 1.0], 4.0) == reference_f1(truth, [4.0, 1.0, 1.0], 4.0) == 0.0
    with pytest.warns(EvaluationWarning, match="no clip is at or above"):
        assert math.isnan(top_tier_f1(truth, [1.0, 1.0, 1.0], 4.0))
    assert top_tier_f1(truth, [1.0] * 3, 4.0, epsilon=1e-8) == 0.0  # the participants' variant
    constant = [4.5] * 4  # constant predictions, all top: P = share of true top songs, R = 1
    assert top_tier_f1([4.0, 4.5, 2.0, 1.0], constant, 4.0) == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert top_tier_f1([4.0, 4.5], [3.99, 3.99], 4.0) == 0.0  # at the threshold counts, just below does not


def test_top_tier_results_adds_utterance_system_and_mean_rows():
    rng = np.random.default_rng(3)
    true = pd.DataFrame(rng.integers(4, 21, size=(30, 5)) / 4, columns=list(THRESHOLDS))
    pred = true + rng.normal(scale=0.5, size=true.shape)
    pred.iloc[:10] += 1.5  # systems s1, s2 predicted top: every system-level TTA is defined
    systems = np.repeat(["s1", "s2", "s3", "s4", "s5", "s6"], 5)
    from clapmos.evaluation.metrics import score, system_means

    table = top_tier_results(true, pred, systems, THRESHOLDS, score(true, pred, systems=systems))
    tta = table[table["metric"] == "TTA"].set_index(["level", "target"])["value"]
    for target, threshold in THRESHOLDS.items():
        assert tta["utterance", target] == pytest.approx(reference_f1(true[target], pred[target], threshold))
        st, sp = system_means(true[target].to_numpy(), systems), system_means(pred[target].to_numpy(), systems)
        assert tta["system", target] == pytest.approx(reference_f1(st, sp, threshold), nan_ok=True)
    mean = table[(table["target"] == "mean") & (table["level"] == "utterance")].set_index("metric")["value"]
    assert set(mean.index) == {"LCC", "SRCC", "KTAU", "TTA"}
    assert mean["TTA"] == pytest.approx(np.nanmean([tta["utterance", t] for t in THRESHOLDS]))


# --------------------------------------------------------------------------- pairwise accuracy
def reference_accuracy(labels, score_a, score_b):
    """CMI-RewardBench evaluate_results.py, restated: predict A iff score_A > score_B; normalise
    a/model_a, b/model_b, both/neither (tie); drop anything else; 1 / 0.5 (tie) / 0."""
    total, n = 0.0, 0
    for label, sa, sb in zip(labels, score_a, score_b):
        label = label.lower()
        norm = {"a": "A", "model_a": "A", "b": "B", "model_b": "B", "both": "T", "neither": "T"}.get(label)
        if norm is None:
            continue
        predicted = "A" if sa > sb else "B"
        total += 1.0 if norm == predicted else 0.5 if norm == "T" else 0.0
        n += 1
    return total / n if n else math.nan


@pytest.mark.parametrize("seed", range(5))
def test_pairwise_accuracy_equals_the_benchmark_rules(seed):
    rng = np.random.default_rng(seed)
    labels = rng.choice(["a", "b", "model_a", "model_b", "A", "B", "both", "neither", "TIE", "BOTH_BAD"], size=60)
    score_a, score_b = rng.integers(0, 3, size=60).astype(float), rng.integers(0, 3, size=60).astype(float)  # many equal scores
    assert pairwise_accuracy(labels, score_a - score_b) == pytest.approx(reference_accuracy(labels, score_a, score_b))


def test_pairwise_edge_cases():
    assert pairwise_accuracy(["a", "b"], [0.0, 0.0]) == 0.5  # equal scores go to B: a tie is never predicted
    assert pairwise_accuracy(["both", "neither", "both"], [1.0, -2.0, 0.0]) == 0.5  # all ties
    assert pairwise_accuracy(["model_a"] * 3, [0.0] * 3) == 0.0  # constant predictions: always B
    with pytest.warns(EvaluationWarning, match="no vote"):
        assert math.isnan(pairwise_accuracy(["TIE", "BOTH_BAD"], [1.0, -1.0]))  # every label dropped


def test_pairwise_results_use_the_matching_head_or_musicality():
    predictions = pd.DataFrame({"id": ["x", "y", "z"], "musicality": [3.0, 1.0, 2.0], "alignment": [1.0, 2.0, 3.0]})
    votes = pd.DataFrame({"id_a": ["x", "y", "x", "z"], "id_b": ["y", "z", "z", "y"], "vote": ["model_a", "model_b", "A", "TIE"],
                          "dimension": ["alignment", "alignment", "preference", "preference"]})
    table = pairwise_results(votes, predictions).set_index("target")
    assert table.loc["alignment", "value"] == reference_accuracy(["model_a", "model_b"], [1.0, 2.0], [2.0, 3.0])
    assert table.loc["preference", "value"] == 1.0 and table.loc["preference", "n"] == 1  # musicality; TIE dropped


# --------------------------------------------------------------------------- Bradley–Terry
def reference_bradley_terry(a, b, labels, systems, c):
    """Minimise ½‖β‖² + C·Σ w·logloss (scikit-learn's L2 logistic objective) directly; TIE: half a win each."""
    index = {s: i for i, s in enumerate(systems)}

    def objective(beta):
        total = 0.5 * beta @ beta
        for sa, sb, label in zip(a, b, labels):
            d = beta[index[sa]] - beta[index[sb]]
            share = {"A": 1.0, "B": 0.0, "TIE": 0.5}.get(label)
            if share is None:
                continue
            total += c * (share * np.logaddexp(0, -d) + (1 - share) * np.logaddexp(0, d))
        return total

    beta = minimize(objective, np.zeros(len(systems)), method="BFGS", options={"gtol": 1e-10}).x
    return pd.Series(beta - beta.mean(), index=systems)


def test_bradley_terry_equals_the_penalised_likelihood_and_recovers_the_order():
    rng = np.random.default_rng(0)
    strength = {"s0": 1.5, "s1": 0.7, "s2": 0.0, "s3": -1.0}
    names = list(strength)
    a, b, labels = [], [], []
    for _ in range(600):
        i, j = rng.choice(4, size=2, replace=False)
        p = 1 / (1 + np.exp(-(strength[names[i]] - strength[names[j]])))
        u = rng.random()
        labels.append("TIE" if u < 0.1 else "BOTH_BAD" if u < 0.15 else "A" if rng.random() < p else "B")
        a.append(names[i]), b.append(names[j])
    beta = bradley_terry(a, b, labels, c=0.5, min_votes=30)
    assert list(beta.index) == names
    expected = reference_bradley_terry(a, b, labels, sorted(names), 0.5)
    assert beta.reindex(expected.index).to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-4)
    assert bradley_terry(a, b, labels, min_votes=10_000).empty  # nobody has enough votes


def test_top_tier_scorers_give_the_f1_of_one_dimension():
    from sklearn.dummy import DummyRegressor

    from clapmos.evaluation.scorers import TOP_TIER_SCORERS

    y = np.array([4.5, 3.0, 4.0, 2.0, 3.8])
    model = DummyRegressor(strategy="constant", constant=3.9).fit(np.zeros((5, 1)), y)
    assert TOP_TIER_SCORERS["utterance_tta_clarity"](model, np.zeros((5, 1)), y) == pytest.approx(reference_f1(y, [3.9] * 5, 3.75))


def test_leaderboards_from_human_votes_and_from_predictions():
    from clapmos.evaluation.pairwise import leaderboards

    rng = np.random.default_rng(1)
    clips = pd.DataFrame({"id": [f"c{i}" for i in range(40)], "system": [f"s{i % 4}" for i in range(40)]})
    quality = np.array([1.0, 0.3, -0.2, -1.1])[np.arange(40) % 4] + rng.normal(scale=0.3, size=40)
    a, b = rng.integers(0, 40, 400), rng.integers(0, 40, 400)
    keep = clips["system"].to_numpy()[a] != clips["system"].to_numpy()[b]
    a, b = a[keep], b[keep]
    votes = pd.DataFrame({"id_a": clips["id"].to_numpy()[a], "id_b": clips["id"].to_numpy()[b], "dimension": "preference",
                          "vote": np.where(rng.random(len(a)) < 1 / (1 + np.exp(-(quality[a] - quality[b]))), "A", "B")})
    predictions = pd.DataFrame({"id": clips["id"], "musicality": quality})
    table = leaderboards(votes, predictions, clips.set_index("id")["system"], min_votes=30).set_index("system")
    assert list(table["predicted"].sort_values(ascending=False).index) == ["s0", "s1", "s2", "s3"]
    systems = clips.set_index("id")["system"]
    expected = bradley_terry(systems[votes["id_a"]].to_numpy(), systems[votes["id_b"]].to_numpy(), votes["vote"], min_votes=30)
    np.testing.assert_allclose(table["human"].reindex(expected.index), expected.to_numpy())
