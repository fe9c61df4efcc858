"""Paired comparisons of predictors: Holm's correction, and the error rates of the paired bootstrap on simulated tests.

Two equally good predictors (the same
dependence on the clips' quality, independent errors of the same size) must be declared
different in at most 5 % (+ simulation noise) of listening tests; a predictor whose errors
are a little smaller must be found better in most of them at the utterance level, at
MusicEval's size (31 systems, 2,335 clips). The power
at the system level (31 points) is printed: it is low, which is the point of reporting it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clapmos.evaluation.intervals import BootstrapSettings
from clapmos.evaluation.paired import compare_predictions, holm, share_ahead

N_SYSTEMS, CLIPS = 31, 75  # 2,325 clips: MusicEval's 2,335 in 31 systems


def test_holm_matches_the_step_down_rule_written_out():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    # sorted: 0.005 (x4) = 0.02, 0.01 (x3) = 0.03, 0.03 (x2) = 0.06, 0.04 (x1) = 0.04 -> running max 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02, np.nan], rtol=0, atol=1e-12)
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # capped at 1


def test_share_ahead_counts_ties_half_and_lower_mse_is_ahead():
    assert share_ahead([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 5.0, 1.0]) == pytest.approx(0.625)
    assert share_ahead([0.1, 0.2], [0.3, 0.3], lower_is_better=True) == 1.0


def listening_test(rng, noise_a: float, noise_b: float, clips: int = CLIPS):
    system = np.repeat(np.arange(N_SYSTEMS), clips)
    quality = rng.normal(0, 0.7, N_SYSTEMS)[system] + rng.normal(0, 0.7, system.size)
    truth = quality + rng.normal(0, 0.5, system.size)
    bias = rng.normal(0, 0.25, N_SYSTEMS)[system]
    predictions = {name: pd.DataFrame({"overall": quality + bias + rng.normal(0, noise, system.size)})
                   for name, noise in (("A", noise_a), ("B", noise_b))}
    return pd.DataFrame({"overall": truth}), predictions, system.astype(str)


def declared(noise_a: float, noise_b: float, replicates: int, seed: int, clips: int = CLIPS) -> dict[str, float]:
    """Share of replicates in which A and B are declared different (Holm p < 0.05), per level, for the SRCC."""
    rng = np.random.default_rng(seed)
    hits = {"utterance": [], "system": []}
    for replicate in range(replicates):
        truth, predictions, systems = listening_test(rng, noise_a, noise_b, clips)
        table = compare_predictions(truth, predictions, systems, metrics=["SRCC"], settings=BootstrapSettings(300, 0.95, replicate))
        for row in table.itertuples():
            hits[row.level].append(bool(row.established) and (noise_a == noise_b or row.difference > 0))
    return {level: float(np.mean(values)) for level, values in hits.items()}


def test_two_equally_good_predictors_are_rarely_declared_different():
    rates = declared(0.6, 0.6, replicates=100, seed=0, clips=30)  # fewer clips per system: the error rate does not need many
    print("false positives", rates)
    assert rates["utterance"] <= 0.09 and rates["system"] <= 0.09, rates  # 5 % + 2 standard errors of 100 replicates


def test_a_slightly_better_predictor_is_found_better_at_the_utterance_level():
    rates = declared(0.5, 0.6, replicates=40, seed=1)
    print("power", rates)
    assert rates["utterance"] >= 0.8, rates


def test_several_predictors_get_every_pair_with_holm_over_the_pairs_of_each_metric():
    rng = np.random.default_rng(5)
    truth = pd.DataFrame({"overall": rng.normal(size=400)})
    predictions = {name: truth + noise * rng.normal(size=(400, 1)) for name, noise in (("good", 0.3), ("fair", 0.8), ("twin", 0.8))}
    table = compare_predictions(truth, predictions, metrics=["SRCC", "MSE"], settings=BootstrapSettings(400))
    assert table[["a", "b"]].drop_duplicates().values.tolist() == [["good", "fair"], ["good", "twin"], ["fair", "twin"]]
    for _, group in table.groupby("metric"):
        np.testing.assert_allclose(group["p_holm"], holm(group["p_value"]), rtol=0, atol=0)
        assert (group["p_holm"] >= group["p_value"]).all()
    srcc = table[table["metric"] == "SRCC"].set_index(["a", "b"])
    assert srcc.loc[("good", "fair"), "established"] and srcc.loc[("good", "twin"), "established"]
    assert not srcc.loc[("fair", "twin"), "established"]  # equally good: not established
    mse = table[table["metric"] == "MSE"].set_index(["a", "b"])
    assert mse.loc[("good", "fair"), "difference"] < 0 and mse.loc[("good", "fair"), "share_a_ahead"] > 0.99  # lower MSE is ahead
