"""The estimator contract for the paired-input estimators, on even widths.

scikit-learn's common checks fit on 3 features, which a paired (audio | text) matrix
cannot have; these are the properties those checks would have tested
(see ``heads.EXPECTED_FAILED_CHECKS``).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from clapmos.heads import BLOCK_ORDER, CrossAttentionRegressor, PairedEmbeddingFeatures, SpoCosineRegressor

ESTIMATORS = [
    PairedEmbeddingFeatures(blocks=BLOCK_ORDER),
    SpoCosineRegressor(max_epochs=5, random_state=0),
    CrossAttentionRegressor(d_model=8, n_heads=2, hidden_sizes=(8,), max_epochs=5, random_state=0),  # a matrix: one token | text per row
]
pytestmark = [
    pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__),
    pytest.mark.filterwarnings("ignore::clapmos.heads.NoListenerRatingsWarning"),
]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    return X, 5 + 3 * (X[:, :3] * X[:, 3:]).sum(axis=1)


def output(estimator, X):
    return estimator.transform(X) if hasattr(estimator, "transform") else estimator.predict(X)


def test_pickled_estimators_give_the_same_output(estimator, data):
    X, y = data
    fitted = clone(estimator).fit(X, y)
    np.testing.assert_array_equal(output(pickle.loads(pickle.dumps(fitted)), X), output(fitted, X))


def test_output_of_a_row_does_not_depend_on_the_other_rows(estimator, data):
    X, y = data
    fitted = clone(estimator).fit(X, y)
    full = output(fitted, X)
    one_by_one = np.concatenate([output(fitted, row[None, :]) for row in X])
    order = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_allclose(one_by_one, full, atol=1e-12)
    np.testing.assert_allclose(output(fitted, X[order]), full[order], atol=1e-12)


def test_inputs_parameters_and_state_are_left_untouched(estimator, data):
    X, y = data
    X_copy, y_copy, params = X.copy(), y.copy(), clone(estimator).get_params()
    fitted = clone(estimator).fit(X, y)
    state = {k: v for k, v in vars(fitted).items() if k != "module_"}
    output(fitted, X)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    assert repr(fitted.get_params()) == repr(params)
    assert {k: repr(v) for k, v in vars(fitted).items() if k != "module_"} == {k: repr(v) for k, v in state.items()}


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_other_dtypes_and_fortran_order_are_accepted(estimator, data, dtype):
    X, y = data
    X = np.asfortranarray((X * 10).astype(dtype))
    result = output(clone(estimator).fit(X, y), X)
    assert np.isfinite(result).all()


def test_fitting_twice_gives_the_same_output(estimator, data):
    X, y = data
    fitted = clone(estimator).fit(X, y)
    first = output(fitted, X)
    np.testing.assert_array_equal(output(fitted.fit(X, y), X), first)


def test_nan_inf_and_one_dimensional_inputs_are_refused(estimator, data):
    X, y = data
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clone(estimator).fit(bad, y)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clone(estimator).fit(bad, y)
    with pytest.raises(ValueError, match="2D array"):
        output(clone(estimator).fit(X, y), X[0])


def test_a_width_other_than_the_fitted_one_is_refused(estimator, data):
    X, y = data
    with pytest.raises(ValueError, match="features"):
        output(clone(estimator).fit(X, y), np.hstack([X, X]))


def test_in_a_pipeline_the_output_is_the_same(estimator, data):
    X, y = data
    direct = output(clone(estimator).fit(X, y), X)
    piped = make_pipeline(clone(estimator)).fit(X, y)
    np.testing.assert_array_equal(output(piped, X), direct)
