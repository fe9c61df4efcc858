"""The one bootstrap of clapmos: its draws, its metrics on many draws, and the coverage of its intervals.

Coverage is checked on simulated listening tests with known effects: 31 systems drawn from a
population of systems (each with a true quality and a predictor bias), clips within them,
and listeners with their own biases rating every clip a few times. Over many such tests, the
95 % two-level interval of the system-level SRCC must contain the population value (the SRCC
of infinitely many systems with the same number of clips each) in 92-98 % of them, and the
clip interval of the utterance-level SRCC the value of infinitely many clips of the same
systems and listeners; keeping the systems fixed and resampling only clips under-covers the
system-level value, which is why the system level is resampled on two levels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clapmos.evaluation.bootstrap import BATCHED, batched, draw_clips, draw_systems, percentile_interval
from clapmos.evaluation.intervals import metric_intervals
from clapmos.evaluation.metrics import score

N_SYSTEMS, N_LISTENERS, RATINGS_PER_CLIP = 31, 40, 4


def listening_test(rng, n_systems=N_SYSTEMS, clips=20, effects=None):
    """Clip truths (mean of listener ratings) and predictions; ``effects`` fixes systems and listeners."""
    quality, bias, listener = effects or (rng.normal(0, 0.7, n_systems), rng.normal(0, 0.25, n_systems), rng.normal(0, 0.3, N_LISTENERS))
    system = np.repeat(np.arange(len(quality)), clips)
    clip_quality = quality[system] + rng.normal(0, 0.7, system.size)
    raters = rng.integers(0, N_LISTENERS, size=(system.size, RATINGS_PER_CLIP))
    truth = clip_quality + (listener[raters] + rng.normal(0, 0.6, raters.shape)).mean(axis=1)
    prediction = 0.9 * clip_quality + bias[system] + rng.normal(0, 0.5, system.size)
    return system, truth, prediction, (quality, bias, listener)


def system_srcc(system, truth, prediction) -> float:
    counts = np.bincount(system)
    return stats.spearmanr(np.bincount(system, truth) / counts, np.bincount(system, prediction) / counts).statistic


def test_two_level_draws_take_each_drawn_systems_clips_and_fixed_draws_keep_the_systems():
    systems = np.array([2, 0, 2, 1, 0, 2, 1])  # not sorted: clips of one system are scattered
    draws = draw_systems(systems, 50, np.random.default_rng(0))
    slot_of_clip = draws.slot_system.ravel()[draws.slot]
    assert (systems[draws.clip] == slot_of_clip).all()  # a slot's clips belong to the system drawn into it
    per_slot = np.bincount(draws.slot, minlength=draws.slot_system.size)
    assert (per_slot == np.bincount(systems)[draws.slot_system.ravel()]).all()  # as many clips as the system has
    assert len(np.unique(draws.slot_system)) == 3 and (draws.slot_system != np.arange(3)).any()
    fixed = draw_systems(systems, 50, np.random.default_rng(0), resample_systems=False)
    assert (fixed.slot_system == np.arange(3)).all()


def test_system_means_of_a_draw_are_the_means_of_its_drawn_clips():
    rng = np.random.default_rng(1)
    systems, values = rng.integers(0, 4, 30), rng.normal(size=30)
    draws = draw_systems(systems, 5, rng)
    _, means = draws.pairs(values, values)
    for d in range(5):
        for j in range(4):
            slot = d * 4 + j
            assert means[d, j] == pytest.approx(values[draws.clip[draws.slot == slot]].mean(), abs=1e-12)


def test_grouped_clip_draws_take_whole_groups():
    groups = np.array(["p1", "p1", "p2", "p3", "p3", "p3"])
    draws = draw_clips(6, 40, np.random.default_rng(2), groups=groups)
    for a, b in zip(draws.starts[:-1], draws.starts[1:]):
        drawn = pd.Series(groups[draws.clip[a:b]])
        size = {"p1": 2, "p2": 1, "p3": 3}
        assert all(count % size[g] == 0 for g, count in drawn.value_counts().items())
        assert drawn.nunique() <= 3 and len(drawn) >= 3


@pytest.mark.parametrize("metric", sorted(BATCHED))
def test_batched_metrics_equal_scipy_draw_by_draw(metric):
    rng = np.random.default_rng(3)
    true, pred = np.round(rng.normal(size=(40, 31)), 1), np.round(rng.normal(size=(40, 31)), 1)  # with ties
    reference = {
        "MSE": lambda t, p: np.mean((t - p) ** 2),
        "LCC": lambda t, p: stats.pearsonr(t, p).statistic,
        "SRCC": lambda t, p: stats.spearmanr(t, p).statistic,
        "KTAU": lambda t, p: stats.kendalltau(t, p, variant="b").statistic,
    }[metric]
    np.testing.assert_allclose(batched(metric)(true, pred), [reference(t, p) for t, p in zip(true, pred)], rtol=0, atol=1e-12)


def test_srcc_of_clip_draws_equals_scipy_spearman_of_each_drawn_sample():
    rng = np.random.default_rng(6)
    true, pred = np.round(rng.normal(size=80), 1), np.round(rng.normal(size=80), 1)  # with ties
    draws = draw_clips(80, 30, rng)
    index = draws.clip.reshape(30, 80)
    expected = [stats.spearmanr(true[row], pred[row]).statistic for row in index]
    np.testing.assert_allclose(draws.metric(true, pred, "SRCC"), expected, rtol=0, atol=1e-12)


def test_any_metric_function_gets_an_interval():
    rng = np.random.default_rng(4)
    true = pd.DataFrame({"overall": rng.normal(size=200)})
    pred = true + rng.normal(0, 0.5, size=(200, 1))
    table = metric_intervals(true, pred, n_draws=300, metrics={"MAE": lambda t, p: float(np.mean(np.abs(t - p)))})
    low, high = table[["low", "high"]].iloc[0]
    assert low < np.mean(np.abs(true - pred).to_numpy()) < high and high - low < 0.2


def test_intervals_are_seeded_and_contain_the_point_values():
    rng = np.random.default_rng(5)
    system, truth, prediction, _ = listening_test(rng, n_systems=8, clips=10)
    frames = pd.DataFrame({"overall": truth}), pd.DataFrame({"overall": prediction})
    first, again = (metric_intervals(*frames, system, n_draws=200, seed=7) for _ in range(2))
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(metric_intervals(*frames, system, n_draws=200, seed=8))
    points = score(*frames, systems=system).merge(first, on=["level", "target", "metric"])
    assert ((points["low"] <= points["value"]) & (points["value"] <= points["high"])).all()


def test_percentile_interval_of_too_few_finite_draws_is_nan():
    assert np.isnan(percentile_interval(np.array([1.0, np.nan, np.nan]), 0.95)).all()


def test_95_percent_two_level_intervals_cover_the_population_system_srcc_and_clip_only_draws_do_not():
    rng = np.random.default_rng(0)
    population = system_srcc(*listening_test(rng, n_systems=20_000)[:3])  # the SRCC of the population of systems
    covered = {"two-level": [], "clips only": []}
    for _ in range(200):
        system, truth, prediction, _ = listening_test(rng)
        for name, resample_systems in (("two-level", True), ("clips only", False)):
            draws = draw_systems(system, 300, rng, resample_systems=resample_systems)
            low, high = percentile_interval(draws.metric(truth, prediction, "SRCC"), 0.95)
            covered[name].append(low <= population <= high)
    rates = {name: float(np.mean(hits)) for name, hits in covered.items()}  # 200 replicates: standard error 1.5 points
    print(rates)
    assert 0.92 <= rates["two-level"] <= 0.98, rates
    assert rates["clips only"] < 0.85, rates


def test_95_percent_clip_intervals_cover_the_utterance_srcc_of_the_same_systems_and_listeners():
    rng = np.random.default_rng(1)
    covered = []
    for _ in range(200):
        system, truth, prediction, effects = listening_test(rng)
        _, big_truth, big_prediction, _ = listening_test(rng, clips=1000, effects=effects)  # these systems, listeners
        value = stats.spearmanr(big_truth, big_prediction).statistic
        low, high = percentile_interval(draw_clips(len(truth), 300, rng).metric(truth, prediction, "SRCC"), 0.95)
        covered.append(low <= value <= high)
    print(np.mean(covered))
    assert 0.92 <= np.mean(covered) <= 0.98


def test_shared_prompts_are_resampled_whole_so_a_shared_error_widens_the_interval():
    rng = np.random.default_rng(7)
    prompts = np.repeat([f"prompt {i}" for i in range(40)], 10)  # 40 prompts, 10 clips each
    truth = rng.normal(size=400)
    prediction = truth + np.repeat(rng.normal(0, 1.0, 40), 10) + rng.normal(0, 0.3, 400)  # an error shared by a prompt's clips
    frames = pd.DataFrame({"overall": truth}), pd.DataFrame({"overall": prediction})
    by_prompt = metric_intervals(*frames, groups=prompts, n_draws=400, metrics=["MSE"]).iloc[0]
    by_clip = metric_intervals(*frames, n_draws=400, metrics=["MSE"]).iloc[0]
    assert (by_prompt.high - by_prompt.low) > 1.5 * (by_clip.high - by_clip.low)
    few = metric_intervals(*frames, groups=np.repeat(["a", "b"], 200), n_draws=400, metrics=["MSE"]).iloc[0]
    assert few.low == by_clip.low and few.high == by_clip.high  # fewer than 10 prompts: clips are resampled
