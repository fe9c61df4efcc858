"""System comparison by bootstrap, checked on simulated systems whose true means are known.

Each simulated system's clips are its true mean plus noise. Over many repetitions, the 95%
(and 80%) intervals must contain the true means about that often, and when systems are far
apart the shares ahead must rank them in their true order; for two identical systems the
share is a coin toss on average.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clapmos.evaluation.systems import MIN_CLIPS, SystemWarning, compare_systems

TRUE_MEANS = {"A": 3.0, "B": 3.2, "C": 3.5, "D": 4.0}


def simulate(rng: np.random.Generator, means: dict[str, float], clips: int, noise: float = 0.6) -> pd.DataFrame:
    return pd.DataFrame({
        "system": np.repeat(list(means), clips),
        "overall": np.concatenate([mean + noise * rng.standard_normal(clips) for mean in means.values()]),
    })


@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_intervals_cover_the_true_system_means_at_about_the_nominal_rate(confidence):
    rng = np.random.default_rng(0)
    covered = []
    for repetition in range(250):
        table = compare_systems(simulate(rng, TRUE_MEANS, clips=40), ["overall"], n_draws=400, confidence=confidence, seed=repetition).table
        covered += [row.low <= TRUE_MEANS[row.system] <= row.high for row in table.itertuples()]
    rate = np.mean(covered)  # 1000 intervals: a binomial standard error of about 0.7 (95%) or 1.3 (80%) points
    assert confidence - 0.05 <= rate <= confidence + 0.03, rate


def test_shares_ahead_rank_systems_correctly_when_their_gaps_are_large():
    rng = np.random.default_rng(1)
    means = {"S9": 2.0, "S1": 4.5, "S5": 3.0, "S3": 3.8}  # order by name says nothing
    comparison = compare_systems(simulate(rng, means, clips=30, noise=0.5), ["overall"], n_draws=1000, seed=0)
    truth = sorted(means, key=means.get, reverse=True)
    assert comparison.table["system"].tolist() == truth
    for i, better in enumerate(truth):
        for worse in truth[i + 1 :]:
            assert comparison.share_ahead("overall", better, worse) > 0.99
            assert comparison.share_ahead("overall", worse, better) < 0.01
    wins = comparison.matrix("overall").fillna(0).gt(0.5).sum(axis=1)
    assert wins.sort_values(ascending=False).index.tolist() == truth


def test_for_two_identical_systems_the_share_ahead_is_a_coin_toss_on_average():
    rng = np.random.default_rng(2)
    shares = [
        compare_systems(simulate(rng, {"X": 3.0, "Y": 3.0}, clips=25), ["overall"], n_draws=300, seed=k).share_ahead("overall", "X", "Y")
        for k in range(400)
    ]
    assert 0.45 <= np.mean(shares) <= 0.55  # uniform shares: the mean of 400 has a standard error of 0.014
    assert np.mean(np.array(shares) > 0.975) < 0.06  # "X surely ahead" about as rarely as a 5% two-sided test would say so


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(MIN_CLIPS, 12), min_size=2, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_means_are_plain_means_and_shares_of_a_pair_add_up_to_one(sizes, seed):
    rng = np.random.default_rng(seed)
    systems = [f"S{i}" for i in range(len(sizes))]
    scores = pd.DataFrame({
        "system": np.repeat(systems, sizes),
        "overall": np.round(rng.normal(3, 1, sum(sizes)), 1),  # rounded: ties between draws happen
    })
    comparison = compare_systems(scores, ["overall"], n_draws=200, seed=seed)
    table = comparison.table.set_index("system")
    for system, n in zip(systems, sizes):
        values = scores.loc[scores["system"] == system, "overall"].tolist()
        assert table.loc[system, "clips"] == n
        assert math.isclose(table.loc[system, "mean"], math.fsum(values) / n, rel_tol=1e-12, abs_tol=1e-12)
        assert table.loc[system, "low"] <= table.loc[system, "high"]
    assert comparison.table["mean"].is_monotonic_decreasing
    for a in systems:
        for b in systems:
            if a != b:
                assert comparison.share_ahead("overall", a, b) + comparison.share_ahead("overall", b, a) == pytest.approx(1.0, abs=1e-12)


def test_the_same_seed_gives_the_same_numbers_and_another_seed_other_draws():
    scores = simulate(np.random.default_rng(3), TRUE_MEANS, clips=15)
    first, again = (compare_systems(scores, ["overall"], n_draws=300, seed=7) for _ in range(2))
    pd.testing.assert_frame_equal(first.table, again.table)
    pd.testing.assert_frame_equal(first.ahead, again.ahead)
    other = compare_systems(scores, ["overall"], n_draws=300, seed=8)
    assert not np.array_equal(first.table["low"], other.table["low"])


def test_too_few_clips_give_a_mean_without_interval_or_share_and_missing_scores_are_left_out():
    """Case 14 of issue 19: one clip printed 1.00/0.00 "ahead", two clips a "95 %" interval that was their min and max."""
    a = [1.0, 2.0, 1.5, 2.5, 1.0]
    scores = pd.DataFrame({"system": ["A"] * 6 + ["B", "C", "C", ""], "overall": [*a, np.nan, 5.0, 4.0, 4.5, 9.0],
                           "textual": [1.0] * 6 + [2.0] * 4})
    with pytest.warns(SystemWarning, match="system B has 1 clip\\(s\\) with a overall score, fewer than 5"), \
            pytest.warns(SystemWarning, match="system C has 2 clip\\(s\\)"):
        comparison = compare_systems(scores, ["overall", "textual"], n_draws=100)
    overall = comparison.table[comparison.table["target"] == "overall"].set_index("system")
    assert overall.loc["A", "clips"] == 5 and overall.loc["A", "mean"] == sum(a) / 5 and np.isnan(overall.loc["B", "low"])
    assert np.isnan(overall.loc["C", "low"]) and np.isnan(overall.loc["C", "high"]) and overall.loc["C", "mean"] == 4.25
    assert np.isnan(comparison.share_ahead("overall", "B", "A")) and np.isnan(comparison.share_ahead("overall", "C", "B"))
    textual = comparison.table[comparison.table["target"] == "textual"].set_index("system")
    assert (textual.loc["A", "low"], textual.loc["A", "high"]) == (1.0, 1.0)  # every clip the same: the interval is that value
    assert "| B | 1 | 5.00 no interval |" in comparison.markdown()
    assert "too few clips" in comparison.matrix_markdown("overall") and "1.00" not in comparison.matrix_markdown("overall")