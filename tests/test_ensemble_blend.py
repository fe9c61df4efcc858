"""CVEnsemble's blend with non-negative weights (the XACLE second place's) and clipping to a score range."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression, Ridge

from clapmos.heads import CVEnsemble


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    y = 5 + 2 * X[:, 0] + 0.2 * rng.normal(size=150)
    return X, y


class Flipped(Ridge):
    """A member whose predictions run against the target (a blend should give it no weight)."""

    def predict(self, X):
        return -super().predict(X)


def test_nnls_weights_are_non_negative_without_intercept_and_minimise_the_oof_error(data):
    X, y = data
    members = [("good", Ridge()), ("flipped", Flipped()), ("mean", DummyRegressor())]
    ensemble = CVEnsemble(members, n_splits=3, stack_method="nnls").fit(X, y)
    (blend,) = ensemble.stackers_
    assert isinstance(blend, LinearRegression) and blend.intercept_ == 0.0
    assert np.all(blend.coef_ >= 0) and blend.coef_[1] == 0.0
    P = np.column_stack([ensemble.oof_members_[name] for name, _ in members])
    best = np.mean((P @ blend.coef_ - y) ** 2)
    rng = np.random.default_rng(1)
    for weights in rng.uniform(0, 1.5, size=(2000, 3)):  # no non-negative weights do better
        assert np.mean((P @ weights - y) ** 2) >= best - 1e-9


def test_clipping_bounds_every_prediction(data):
    X, y = data
    ensemble = CVEnsemble([("a", Ridge()), ("b", Ridge(alpha=30.0))], n_splits=3, clip=(4.0, 6.0)).fit(X, y)
    for predicted in (ensemble.oof_prediction_, ensemble.predict(X), ensemble.predict(X, return_std=True)[0]):
        assert predicted.min() >= 4.0 and predicted.max() <= 6.0
    unclipped = CVEnsemble([("a", Ridge()), ("b", Ridge(alpha=30.0))], n_splits=3).fit(X, y).predict(X)
    np.testing.assert_allclose(ensemble.predict(X), np.clip(unclipped, 4.0, 6.0))


@pytest.mark.parametrize(("param", "value", "message"), [("stack_method", "mean", "stack_method must be"), ("clip", (6, 4), "clip must be")])
def test_bad_blend_options_are_refused(data, param, value, message):
    with pytest.raises(ValueError, match=message):
        CVEnsemble(n_splits=3, **{param: value}).fit(*data)
