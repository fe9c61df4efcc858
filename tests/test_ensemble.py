"""CVEnsemble: folds, groups, seeds, stacking, uncertainty, metadata routing."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GroupKFold, KFold, cross_val_predict

from clapmos.heads.runs.ensemble import CVEnsemble


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 0.0]) + 0.3 * rng.normal(size=80)
    return X, y


class WeightRecorder(RegressorMixin, BaseEstimator):
    """A mean predictor that records the rows of the sample-aligned ``weights`` it was fitted with."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y, weights=None):
        self.weights_ = None if weights is None else np.asarray(weights).copy()
        self.mean_ = float(np.mean(y))
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_out_of_fold_predictions_equal_sklearn_cross_val_predict(data):
    X, y = data
    ens = CVEnsemble(Ridge(alpha=1.0), n_splits=4, random_state=3).fit(X, y)
    expected = cross_val_predict(Ridge(alpha=1.0), X, y, cv=KFold(4, shuffle=True, random_state=3))  # the int seed as given
    np.testing.assert_allclose(ens.oof_prediction_, expected, rtol=1e-12)
    assert len(ens.models_["head"]) == 4


def test_prediction_is_the_mean_of_the_fold_models(data):
    X, y = data
    ens = CVEnsemble(Ridge(), n_splits=3).fit(X, y)
    expected = np.mean([m.predict(X[:7]) for m in ens.models_["head"]], axis=0)
    np.testing.assert_allclose(ens.predict(X[:7]), expected)
    mean, std = ens.predict(X[:7], return_std=True)
    np.testing.assert_allclose(std, np.std([m.predict(X[:7]) for m in ens.models_["head"]], axis=0))


def test_grouped_folds_never_split_a_group(data):
    X, y = data
    groups = np.repeat(np.arange(8), 10)
    ens = CVEnsemble(WeightRecorder(), n_splits=4).fit(X, y, groups=groups, weights=groups)
    for model in ens.models_["head"]:
        train_groups = set(model.weights_)
        assert len(train_groups) == 6  # 8 groups, 4 folds: 2 groups held out per fold, never half of one


def test_fit_metadata_is_sliced_per_fold(data):
    X, y = data
    ens = CVEnsemble(WeightRecorder(), n_splits=5).fit(X, y, weights=np.arange(len(y)))
    seen = np.concatenate([m.weights_ for m in ens.models_["head"]])
    assert np.array_equal(np.sort(seen), np.sort(np.tile(np.arange(len(y)), 4)))


def test_metadata_is_routed_only_to_members_that_request_it(data):
    X, y = data
    with sklearn.config_context(enable_metadata_routing=True):
        members = [("rec", WeightRecorder().set_fit_request(weights=True)), ("ridge", Ridge())]
        ens = CVEnsemble(members, n_splits=3).fit(X, y, weights=np.ones(len(y)))
    assert all(m.weights_ is not None for m in ens.models_["rec"])


def test_too_few_samples_or_groups_gives_fewer_folds_with_a_warning(data):
    X, y = data
    with pytest.warns(UserWarning, match="using 3 folds instead of 5"):
        ens = CVEnsemble(Ridge(), n_splits=5).fit(X[:3], y[:3])
    assert ens.n_splits_ == 3
    with pytest.warns(UserWarning, match="only 2 groups: using 2 folds"):
        CVEnsemble(Ridge(), n_splits=5).fit(X, y, groups=np.arange(80) % 2)
    with pytest.raises(ValueError, match="at least 2 folds"):
        CVEnsemble(Ridge()).fit(X, y, groups=np.zeros(80))


def test_seeds_multiply_the_fold_models_and_average_out_of_fold(data):
    X, y = data
    ens = CVEnsemble(Ridge(), n_splits=3, n_seeds=4).fit(X, y)
    assert len(ens.models_["head"]) == 12
    assert ens.oof_prediction_.shape == y.shape


def test_stacking_weighs_a_good_head_over_a_useless_one(data):
    X, y = data
    ens = CVEnsemble([("good", LinearRegression()), ("useless", WeightRecorder())], n_splits=4).fit(X, y)
    good, useless = ens.stackers_[0].coef_
    assert good > 0.8 and abs(useless) < abs(good)
    assert np.corrcoef(ens.oof_prediction_, y)[0, 1] > 0.9
    averaged = CVEnsemble([("good", LinearRegression()), ("useless", WeightRecorder())], n_splits=4, stack=False).fit(X, y)
    assert averaged.stackers_ is None
    np.testing.assert_allclose(averaged.oof_prediction_, (averaged.oof_members_["good"] + averaged.oof_members_["useless"]) / 2)


def test_multi_output_targets_keep_their_shape(data):
    X, y = data
    Y = np.column_stack([y, -y])
    ens = CVEnsemble([("a", Ridge()), ("b", LinearRegression())], n_splits=3).fit(X, Y)
    assert ens.oof_prediction_.shape == (80, 2)
    assert ens.predict(X[:4]).shape == (4, 2)
    assert len(ens.stackers_) == 2


def test_same_random_state_same_result_and_clone_is_unfitted(data):
    X, y = data
    a = CVEnsemble(Ridge(), random_state=7).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.oof_prediction_, b.oof_prediction_)
    assert not hasattr(clone(a), "models_")


def test_grouped_folds_use_sklearn_group_kfold(data):
    X, y = data
    groups = np.repeat(np.arange(10), 8)
    ens = CVEnsemble(Ridge(), n_splits=5, random_state=0).fit(X, y, groups=groups)
    expected = cross_val_predict(Ridge(), X, y, groups=groups, cv=GroupKFold(5, shuffle=True, random_state=0))
    np.testing.assert_allclose(ens.oof_prediction_, expected, rtol=1e-12)


class SeedRecorder(RegressorMixin, BaseEstimator):
    """A constant model that remembers the seed it was fitted with."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        self.seed_ = self.random_state
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_an_int_seed_reaches_every_model_of_the_first_repetition_as_given(data):
    X, y = data
    ens = CVEnsemble([("a", SeedRecorder()), ("b", SeedRecorder())], n_splits=3, n_seeds=2, random_state=42).fit(X, y)
    for name in ("a", "b"):
        assert [m.seed_ for m in ens.models_[name]] == [42, 42, 42, 43, 43, 43]
        assert ens.model_seeds_[name] == [42, 42, 42, 43, 43, 43]


def test_one_split_trains_one_model_per_member_on_every_row_with_the_seed(data):
    X, y = data
    with pytest.warns(UserWarning, match="holds nothing out to stack on: the members are averaged"):
        ens = CVEnsemble([("a", SeedRecorder()), ("b", Ridge())], n_splits=1, random_state=42).fit(X, y)
    assert [m.seed_ for m in ens.models_["a"]] == [42] and len(ens.models_["b"]) == 1
    assert ens.models_["a"][0].mean_ == pytest.approx(np.mean(y))  # every row, none held out
    np.testing.assert_allclose(ens.models_["b"][0].coef_, Ridge().fit(X, y).coef_)
    assert np.isnan(ens.oof_prediction_).all() and ens.stackers_ is None  # nothing held out: no stacking
    np.testing.assert_allclose(ens.predict(X[:5]), (ens.models_["a"][0].predict(X[:5]) + ens.models_["b"][0].predict(X[:5])) / 2)
