"""SPO heads: z targets from the rows they are fitted on, predictions on the score scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from scipy.stats import spearmanr
from sklearn.model_selection import KFold, cross_validate

from clapmos.heads import (
    NoListenerRatingsWarning,
    SpoCosineRegressor,
    SpoMLPRegressor,
    listener_matrices,
    listener_statistics,
    make_head,
)
from clapmos.heads.inputs.features import paired_cosine

# no internal validation rows: the listener statistics are those of every row given (validation rows: see below)
QUICK = {"hidden_sizes": (8,), "max_epochs": 10, "lr": 1e-2, "patience": 3, "random_state": 0, "validation_fraction": None}


@pytest.fixture
def xacle_like():
    """60 clips, 4 of 12 listeners each, integer 0-10 scores driven by the audio-text cosine."""
    rng = np.random.default_rng(0)
    audio = rng.normal(size=(60, 4))
    X = np.hstack([audio, audio + rng.normal(scale=1.5, size=(60, 4))])
    quality = paired_cosine(X)
    rows = [(i, f"L{l}") for i in range(60) for l in rng.choice(12, 4, replace=False)]
    ratings = pd.DataFrame(rows, columns=["item", "listener"])
    harshness = {f"L{l}": rng.normal(0, 1.5) for l in range(12)}
    noise = rng.normal(0, 1, len(ratings))
    ratings["alignment"] = np.clip(np.round(6 + 3 * quality[ratings["item"]] + ratings["listener"].map(harshness) + noise), 0, 10)
    scores, ids = listener_matrices(ratings, 60, "alignment")
    return X, np.nanmean(scores, axis=1), scores, ids, ratings


def test_global_statistics_are_those_of_the_training_ratings(xacle_like):
    X, y, scores, ids, ratings = xacle_like
    model = SpoMLPRegressor(**QUICK).fit(X, y, listener_scores=scores, listener_ids=ids)
    stats = listener_statistics(ratings, "alignment")
    assert model.mu_g_.tolist() == pytest.approx([stats.mu_g])
    assert model.sigma_g_.tolist() == pytest.approx([stats.sigma_g])
    table = pd.DataFrame(model.listener_stats_[0]).set_index("listener")
    np.testing.assert_allclose(table[["mu", "sigma"]], stats.table[["mu", "sigma"]])


def test_predictions_are_the_z_predictions_mapped_back_to_the_score_scale(xacle_like):
    X, y, scores, ids, _ = xacle_like
    model = SpoMLPRegressor(**QUICK).fit(X, y, listener_scores=scores, listener_ids=ids)
    z = model._predict_network(X)[:, 0]
    np.testing.assert_allclose(model.predict(X), model.mu_g_[0] + model.sigma_g_[0] * z)
    assert 0 < model.predict(X).mean() < 10


def test_screening_is_applied_and_counted(xacle_like):
    X, y, scores, ids, ratings = xacle_like
    model = SpoMLPRegressor(**QUICK, screening_tau=2).fit(X, y, listener_scores=scores, listener_ids=ids)
    counts = model.screening_counts_[0]
    assert counts["ratings_in"] == len(ratings) and counts["ratings_removed"] > 0
    assert counts["items_from_mean"] == counts["items_emptied"]


def test_items_left_without_ratings_train_on_their_standardised_mean():
    X = np.random.default_rng(0).normal(size=(6, 4))
    scores = np.array([[1, 2], [2, 3], [8, 9], [9, 8], [0, 10], [np.nan, np.nan]], dtype=float)
    ids = np.array([["a", "b"]] * 5 + [[None, None]], dtype=object)
    y = np.array([1.5, 2.5, 8.5, 8.5, 5.0, 4.0])
    model = SpoMLPRegressor(**{**QUICK, "validation_fraction": 0}, screening_tau=5)
    model.fit(X, y, listener_scores=scores, listener_ids=ids)
    assert model.screening_counts_[0]["items_from_mean"] == 2  # item 4 screened out, item 5 never rated
    Z, keep, _, _ = model._spo_targets(y[:, None], scores, ids)
    assert keep.all()
    np.testing.assert_allclose(Z[4:, 0], (y[4:] - model.mu_g_[0]) / model.sigma_g_[0])


def test_without_listener_ratings_it_trains_on_standardised_y_and_warns(xacle_like):
    X, y, *_ = xacle_like
    with pytest.warns(NoListenerRatingsWarning):
        model = SpoMLPRegressor(**QUICK).fit(X, y)
    assert model.mu_g_[0] == pytest.approx(y.mean())
    assert model.sigma_g_[0] == pytest.approx(y.std(ddof=1))


def test_two_targets_take_three_dimensional_listener_scores():
    rng = np.random.default_rng(1)
    rows = [(i, f"R{r}") for i in range(40) for r in rng.choice(14, 5, replace=False)]
    ratings = pd.DataFrame(rows, columns=["item", "listener"])
    ratings[["overall", "textual"]] = rng.integers(1, 6, size=(len(ratings), 2)).astype(float)
    scores, ids = listener_matrices(ratings, 40, ["overall", "textual"])
    X, Y = rng.normal(size=(40, 8)), np.nanmean(scores, axis=1)
    model = SpoMLPRegressor(**QUICK).fit(X, Y, listener_scores=scores, listener_ids=ids)
    assert model.predict(X).shape == (40, 2) and model.mu_g_.shape == (2,)
    for j, target in enumerate(["overall", "textual"]):
        assert model.mu_g_[j] == pytest.approx(listener_statistics(ratings, target).mu_g)


@pytest.mark.parametrize(
    ("scores_shape", "ids", "message"),
    [((60, 4, 2), True, "2 target"), ((59, 4), True, "59 rows"), ((60, 4), False, "given together")],
)
def test_misaligned_listener_arrays_are_refused(xacle_like, scores_shape, ids, message):
    X, y, scores, listener_ids, _ = xacle_like
    bad = np.ones(scores_shape)
    with pytest.raises(ValueError, match=message):
        SpoMLPRegressor(**QUICK).fit(X, y, listener_scores=bad, listener_ids=listener_ids[: len(bad)] if ids else None)


def _fold_listener_counts(result):
    return [int(est.named_steps["model"].listener_stats_[0]["n"].sum()) for est in result["estimator"]]


def test_cross_validation_routes_listener_ratings_and_slices_them_per_fold(xacle_like):
    X, y, scores, ids, _ = xacle_like
    head = make_head("spo_mlp", target="alignment", **QUICK)
    with sklearn.config_context(enable_metadata_routing=True):
        head.named_steps["model"].set_fit_request(listener_scores=True, listener_ids=True)
        result = cross_validate(
            head, X, y, cv=KFold(3), params={"listener_scores": scores, "listener_ids": ids}, return_estimator=True
        )
    assert _fold_listener_counts(result) == [4 * 40] * 3
    assert np.isfinite(result["test_score"]).all()


def test_listener_ratings_are_requested_by_default_when_routing_is_on(xacle_like):
    X, y, scores, ids, _ = xacle_like
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(
            make_head("cosine", max_epochs=2, validation_fraction=None),
            X,
            y,
            cv=KFold(2),
            params={"listener_scores": scores, "listener_ids": ids},
            return_estimator=True,
        )
    assert _fold_listener_counts(result) == [4 * 30] * 2


def test_without_routing_pipeline_parameters_reach_the_model(xacle_like):
    X, y, scores, ids, _ = xacle_like
    result = cross_validate(
        make_head("spo_mlp", **QUICK),
        X,
        y,
        cv=KFold(3),
        params={"model__listener_scores": scores, "model__listener_ids": ids},
        return_estimator=True,
    )
    assert _fold_listener_counts(result) == [4 * 40] * 3


def test_zero_shot_cosine_head_predicts_the_clapscore_on_the_scale_top(xacle_like):
    X, y, scores, ids, _ = xacle_like
    model = SpoCosineRegressor(max_epochs=0).fit(X, y, listener_scores=scores, listener_ids=ids)
    top = np.nanmax(scores)
    assert model.score_top_.tolist() == [top]
    assert model.slope_ == pytest.approx(top / model.sigma_g_)
    assert model.intercept_ == pytest.approx(-model.mu_g_ / model.sigma_g_)
    np.testing.assert_allclose(model.predict(X), top * paired_cosine(X), rtol=1e-5)


def test_training_the_cosine_map_calibrates_it_without_changing_the_ranking(xacle_like):
    X, y, scores, ids, _ = xacle_like
    zero_shot = SpoCosineRegressor(max_epochs=0, validation_fraction=0.25).fit(X, y, listener_scores=scores, listener_ids=ids)
    trained = SpoCosineRegressor(validation_fraction=0.25, random_state=0).fit(X, y, listener_scores=scores, listener_ids=ids)
    assert trained.history_[trained.best_epoch_]["val_loss"] <= trained.history_[0]["val_loss"]
    assert np.mean((trained.predict(X) - y) ** 2) < np.mean((zero_shot.predict(X) - y) ** 2)
    assert spearmanr(trained.predict(X), paired_cosine(X)).statistic == pytest.approx(1.0)


def test_the_cosine_head_fits_two_targets_with_one_map_each(xacle_like):
    X, y, *_ = xacle_like
    with pytest.warns(NoListenerRatingsWarning):
        model = SpoCosineRegressor(max_epochs=3, random_state=0).fit(X, np.column_stack([y, 10 - y]))
    assert model.slope_.shape == (2,) and model.predict(X).shape == (60, 2)


def test_validation_rows_are_mapped_with_the_training_statistics_they_did_not_help_compute(xacle_like):
    """Published: per-listener statistics from the training rows; the validation rows screened and mapped with mu_g, sigma_g."""
    from clapmos.heads.nn.training import validation_split

    X, y, scores, ids, ratings = xacle_like
    model = SpoMLPRegressor(**{**QUICK, "validation_fraction": 0.25})
    Z, keep, (train_rows, val_rows), seed = model._spo_targets(y[:, None], scores, ids)
    train, val = validation_split(60, 0.25, seed)
    assert keep.all() and seed == 0
    np.testing.assert_array_equal(train_rows, train) and np.testing.assert_array_equal(val_rows, val)
    training = ratings[ratings["item"].isin(train)]
    stats = listener_statistics(training, "alignment")  # the validation rows' ratings are not in them
    assert model.mu_g_[0] == pytest.approx(stats.mu_g) and model.sigma_g_[0] == pytest.approx(stats.sigma_g)
    for item in val:  # every validation rating mapped with the global statistics, whoever gave it
        expected = ((ratings.loc[ratings["item"] == item, "alignment"] - stats.mu_g) / stats.sigma_g).mean()
        assert Z[item, 0] == pytest.approx(expected)
    for item in train[:5]:  # training ratings with their listener's own statistics
        mine = training[training["item"] == item]
        expected = ((mine["alignment"] - mine["listener"].map(stats.table["mu"])) / mine["listener"].map(stats.table["sigma"])).mean()
        assert Z[item, 0] == pytest.approx(expected)


def test_drop_unscreened_drops_single_rating_and_emptied_clips_as_published():
    X = np.random.default_rng(0).normal(size=(8, 4))
    scores = np.array([[1, 2], [2, 3], [8, 9], [9, 8], [0, 10], [7, np.nan], [3, 4], [6, 6]], dtype=float)
    ids = np.array([["a", "b"]] * 5 + [["a", None]] + [["a", "b"]] * 2, dtype=object)
    y = np.nanmean(scores, axis=1)
    kept = SpoMLPRegressor(**QUICK, screening_tau=5)
    Z_all, keep_all, _, _ = kept._spo_targets(y[:, None], scores, ids)
    assert keep_all.all() and kept.screening_counts_[0]["items_from_mean"] == 1  # item 4 emptied, on its mean
    dropping = SpoMLPRegressor(**QUICK, screening_tau=5, drop_unscreened=True)
    Z, keep, (train_rows, _), _ = dropping._spo_targets(y[:, None], scores, ids)
    assert keep.tolist() == [True, True, True, True, False, False, True, True]  # 4 emptied by screening, 5 rated once
    assert dropping.screening_counts_[0]["items_dropped"] == 2 and sorted(train_rows) == list(range(6))
    np.testing.assert_allclose(Z[:, 0], Z_all[keep, 0])
    dropping.fit(X, y, listener_scores=scores, listener_ids=ids)  # trains on the 6 clips left


def test_the_cosine_head_takes_the_published_early_stopping_and_batches():
    """monitor="srcc" with patience, and drop_last, reach training (the history shows them)."""
    rng = np.random.default_rng(1)
    audio = rng.normal(size=(45, 4))
    X = np.hstack([audio, audio + rng.normal(size=(45, 4))])
    y = np.clip(5 + 5 * paired_cosine(X) + rng.normal(0, 1, 45), 0, 10)
    import warnings

    with warnings.catch_warnings(action="ignore", category=NoListenerRatingsWarning):
        loss = SpoCosineRegressor(score_top=10, max_epochs=3, batch_size=16, random_state=0).fit(X, y)
        dropped = SpoCosineRegressor(score_top=10, max_epochs=3, batch_size=16, drop_last=True, random_state=0).fit(X, y)
        srcc = SpoCosineRegressor(score_top=10, max_epochs=30, patience=2, monitor="srcc", lr=1e-3, random_state=0).fit(X, y)
    assert loss.history_[1]["train_loss"] != dropped.history_[1]["train_loss"]  # 40 training rows: 16+16+8, or 16+16
    # the SRCC of an affine map of the cosine never changes (positive slope): it stops on the loss tie-break
    assert len({round(h["val_srcc"], 12) for h in srcc.history_}) == 1
