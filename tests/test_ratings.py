"""Ratings preparation: screening, per-listener statistics, standardisation and item targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clapmos.embed.errors import ClapmosError
from clapmos.heads.inputs.ratings import (
    NoListenerRatingsWarning,
    item_targets,
    listener_matrices,
    listener_statistics,
    ratings_from_matrices,
    screen_ratings,
    standardize,
)


def long_table(rows, target="alignment"):
    return pd.DataFrame(rows, columns=["item", "listener", target])


@pytest.fixture
def screening_example():
    """Integer scores on XACLE's 0-10 scale, worked by hand for tau = 5."""
    return long_table(
        [
            (0, "a", 0), (0, "b", 3), (0, "c", 9), (0, "d", 10),    # 0~3, 9~10: all kept
            (1, "a", 0), (1, "b", 6), (1, "c", 10), (1, "d", 10),   # 0 is 6 from 6: removed
            (2, "z", 1), (2, "b", 7),                                # 6 apart: both removed
            (3, "a", 2), (3, "c", 7),                                # exactly tau apart: kept
            (4, "d", 8),                                             # single rating: kept
            (5, "a", 0), (5, "b", 5), (5, "c", 10),                  # a chain of gaps of 5: kept
        ]
    )  # fmt: skip


def test_screening_keeps_exactly_the_hand_worked_ratings(screening_example):
    kept, _ = screen_ratings(screening_example, tau=5, target="alignment")
    removed = screening_example.drop(kept.index)
    assert sorted(map(tuple, removed[["item", "alignment"]].to_numpy().tolist())) == [(1, 0), (2, 1), (2, 7)]
    assert kept.index.is_monotonic_increasing


def test_screening_counts_what_it_removed(screening_example):
    _, counts = screen_ratings(screening_example, tau=5, target="alignment")
    assert counts == {
        "ratings_in": 16,
        "ratings_removed": 3,
        "items_in": 6,
        "items_emptied": 1,
        "items_single": 1,
        "listeners_emptied": 1,
    }


def test_screening_ignores_ratings_without_a_score():
    ratings = pd.DataFrame({"item": [0, 0, 0], "listener": list("abc"), "overall": [1.0, 2.0, np.nan]})
    kept, counts = screen_ratings(ratings, tau=1, target="overall")
    assert kept["listener"].tolist() == ["a", "b"] and counts["ratings_in"] == 2


def test_screening_compares_non_integer_scores_without_rounding_surprises():
    ratings = pd.DataFrame({"item": [0, 0], "listener": ["a", "b"], "overall": [3.2, 4.2]})
    kept, _ = screen_ratings(ratings, tau=1.0, target="overall")
    assert len(kept) == 2


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.integers(0, 10), min_size=1, max_size=30),
    items=st.data(),
    tau=st.integers(0, 6),
)
def test_a_rating_survives_screening_iff_another_rating_of_its_item_is_within_tau(scores, items, tau):
    item = items.draw(st.lists(st.integers(0, 4), min_size=len(scores), max_size=len(scores)))
    ratings = long_table([(i, f"l{k}", s) for k, (i, s) in enumerate(zip(item, scores))])
    kept, counts = screen_ratings(ratings, tau, "alignment")
    for idx, row in ratings.iterrows():
        others = ratings[(ratings["item"] == row["item"]) & (ratings.index != idx)]["alignment"]
        expected = others.empty or bool((abs(others - row["alignment"]) <= tau).any())
        assert (idx in kept.index) == expected
    assert counts["ratings_in"] - counts["ratings_removed"] == len(kept)


@pytest.fixture
def three_listeners():
    """a: 2, 4, 6 (mu 4, sigma 2); b: one rating 5 (sigma undefined -> 1); c: 3, 3 (sigma 0 -> 1)."""
    return pd.DataFrame(
        {
            "item": [0, 1, 2, 0, 1, 2],
            "listener": ["a", "a", "a", "b", "c", "c"],
            "overall": [2.0, 4.0, 6.0, 5.0, 3.0, 3.0],
        }
    )


def test_listener_statistics_match_hand_computed_values(three_listeners):
    stats = listener_statistics(three_listeners, "overall")
    assert stats.table.loc["a"].tolist() == [4.0, 2.0, 3]
    assert stats.table.loc["b"].tolist() == [5.0, 1.0, 1]
    assert stats.table.loc["c"].tolist() == [3.0, 1.0, 2]
    assert stats.mu_g == pytest.approx((4 + 5 + 3) / 3)
    assert stats.sigma_g == pytest.approx(np.sqrt((4 + 1 + 1) / 3))


def test_standardize_uses_each_listener_and_the_global_statistics_for_unseen_ones(three_listeners):
    stats = listener_statistics(three_listeners, "overall")
    new = pd.DataFrame({"item": [0, 0, 0], "listener": ["a", "c", "stranger"], "overall": [6.0, 5.0, 8.0]})
    z = standardize(new, stats, "overall")
    np.testing.assert_allclose(z, [(6 - 4) / 2, (5 - 3) / 1, (8 - 4) / np.sqrt(2)])


def test_item_targets_average_the_z_of_each_items_ratings(three_listeners):
    result = item_targets(three_listeners, "overall", n_items=4)
    # item 0: a's 2 -> -1, b's 5 -> 0; item 1: a's 4 -> 0, c's 3 -> 0; item 2: a's 6 -> 1, c's 3 -> 0
    np.testing.assert_allclose(result.z[:3], [-0.5, 0.0, 0.5])
    assert np.isnan(result.z[3])
    assert result.counts["ratings_removed"] == 0


def test_item_targets_standardise_with_given_statistics(three_listeners):
    train = listener_statistics(three_listeners, "overall")
    validation = pd.DataFrame({"item": [0, 0], "listener": ["new1", "new2"], "overall": [4.0, 6.0]})
    result = item_targets(validation, "overall", n_items=1, stats=train)
    np.testing.assert_allclose(result.z, [(5 - 4) / np.sqrt(2)])


@settings(max_examples=30, deadline=None)
@given(slope=st.floats(0.2, 5.0), shift=st.floats(-3.0, 3.0))
def test_item_targets_ignore_an_affine_change_of_one_listeners_habits(slope, shift):
    rng = np.random.default_rng(1)
    ratings = pd.DataFrame(
        {"item": np.repeat(np.arange(10), 3), "listener": np.tile(["a", "b", "c"], 10), "overall": rng.normal(size=30)}
    )
    harsher = ratings.copy()
    is_b = harsher["listener"] == "b"
    harsher.loc[is_b, "overall"] = slope * harsher.loc[is_b, "overall"] + shift
    np.testing.assert_allclose(
        item_targets(harsher, "overall", 10).z, item_targets(ratings, "overall", 10).z, atol=1e-9
    )


def test_standardised_training_ratings_have_zero_mean_and_unit_spread_per_listener():
    rng = np.random.default_rng(0)
    ratings = pd.DataFrame(
        {"item": rng.integers(0, 50, 400), "listener": rng.choice(list("abcdefgh"), 400), "overall": rng.normal(3, 2, 400)}
    )
    z = standardize(ratings, listener_statistics(ratings, "overall"), "overall")
    per_listener = z.groupby(ratings["listener"])
    np.testing.assert_allclose(per_listener.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(per_listener.std(ddof=1), 1)


def test_without_listener_ratings_targets_fall_back_to_item_means_with_a_warning():
    empty = pd.DataFrame({"item": [], "listener": [], "overall": []})
    means = np.array([1.0, 2.0, 3.0, 6.0])
    with pytest.warns(NoListenerRatingsWarning, match="per-item means"):
        result = item_targets(empty, "overall", 4, item_means=means)
    np.testing.assert_allclose(result.z, (means - 3.0) / np.std(means, ddof=1))
    assert (result.stats.mu_g, result.stats.sigma_g) == (3.0, pytest.approx(np.std(means, ddof=1)))


def test_without_ratings_or_means_the_error_names_the_target():
    empty = pd.DataFrame({"item": [], "listener": [], "overall": []})
    with pytest.raises(ClapmosError, match="'overall'"):
        item_targets(empty, "overall", 3)


def test_a_table_without_the_needed_columns_is_reported_with_its_columns():
    with pytest.raises(ClapmosError, match=r"lacks column\(s\) \['listener'\]"):
        screen_ratings(pd.DataFrame({"item": [0], "overall": [1.0]}), 1, "overall")


def musiceval_like(n_items=30, seed=0):
    """5 raters of a pool of 14 per clip, two targets on the 1-5 scale."""
    rng = np.random.default_rng(seed)
    rows = [(i, f"R{r:02d}") for i in range(n_items) for r in rng.choice(14, 5, replace=False)]
    ratings = pd.DataFrame(rows, columns=["item", "listener"])
    ratings["overall"] = rng.integers(1, 6, len(ratings)).astype(float)
    ratings["textual"] = rng.integers(1, 6, len(ratings)).astype(float)
    return ratings


def test_musiceval_ratings_become_five_rater_matrices_for_two_targets():
    ratings = musiceval_like()
    scores, ids = listener_matrices(ratings, 30, ["overall", "textual"])
    assert scores.shape == (30, 5, 2) and ids.shape == (30, 5)
    np.testing.assert_allclose(scores[:, :, 1].mean(1), ratings.groupby("item")["textual"].mean())
    back = ratings_from_matrices(scores, ids, ["overall", "textual"])
    pd.testing.assert_frame_equal(back, ratings.reset_index(drop=True), check_dtype=False)


def test_xacle_ratings_become_four_listener_matrices_with_padding():
    ratings = long_table([(i, f"L{4 * i + j}", float((i + j) % 11)) for i in range(6) for j in range(4)])
    ratings = ratings[~((ratings["item"] == 5) & (ratings["listener"] == "L23"))]
    scores, ids = listener_matrices(ratings, 7, "alignment")
    assert scores.shape == (7, 4) and np.isnan(scores[5, 3]) and ids[5, 3] is None
    assert np.isnan(scores[6]).all()
    assert len(ratings_from_matrices(scores, ids)) == len(ratings)


def test_matrices_with_a_score_but_no_listener_are_refused():
    with pytest.raises(ValueError, match="1 rating"):
        ratings_from_matrices(np.array([[1.0, 2.0]]), np.array([["a", None]], dtype=object))


def test_item_targets_per_target_on_musiceval_ratings():
    ratings = musiceval_like()
    overall = item_targets(ratings, "overall", 30, tau=1)
    textual = item_targets(ratings, "textual", 30, tau=1)
    assert overall.stats.table.index.tolist() == sorted(ratings["listener"].unique())
    assert not np.array_equal(overall.z, textual.z, equal_nan=True)
    assert overall.counts["ratings_in"] == 150
