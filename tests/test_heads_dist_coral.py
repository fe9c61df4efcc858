"""The ``dist`` and ``coral`` heads: bins from the training range, spread and distribution, ordinal consistency."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from clapmos.heads import CoralRegressor, DistributionRegressor
from clapmos.heads.nn.distribution import coral_thresholds

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small networks: see conftest
QUICK = {"hidden_sizes": (16,), "max_epochs": 30, "lr": 1e-2, "patience": 10}


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = np.clip(3 + X[:, 0] + 0.3 * rng.normal(size=300), 1, 5)
    return X, y


def test_the_bins_span_the_training_range_unless_set(scores):
    X, y = scores
    model = DistributionRegressor(**QUICK, n_bins=7, random_state=0).fit(X, y)
    np.testing.assert_allclose(model.bin_centers_[0], np.linspace(y.min(), y.max(), 7))
    fixed = DistributionRegressor(**QUICK, n_bins=5, score_range=(0, 10), random_state=0).fit(X, y)
    assert fixed.bin_centers_[0].tolist() == [0.0, 2.5, 5.0, 7.5, 10.0]


def test_the_distribution_sums_to_one_and_its_mean_is_the_prediction(scores):
    X, y = scores
    model = DistributionRegressor(**QUICK, random_state=0).fit(X, y)
    probabilities = model.predict_distribution(X[:10])
    assert probabilities.shape == (10, 20)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    mean, std = model.predict(X[:10], return_std=True)
    centers = model.bin_centers_[0]
    np.testing.assert_allclose(mean, probabilities @ centers)
    np.testing.assert_allclose(std, np.sqrt(probabilities @ centers**2 - mean**2), atol=1e-9)
    assert spearmanr(model.predict(X), y).statistic > 0.85


def test_two_targets_give_one_distribution_each(scores):
    X, y = scores
    Y = np.column_stack([y, 6 - y])
    model = DistributionRegressor(**QUICK, random_state=0).fit(X, Y)
    assert model.predict_distribution(X[:4]).shape == (4, 2, 20) and model.bin_centers_.shape == (2, 20)
    mean, std = model.predict(X[:4], return_std=True)
    assert mean.shape == std.shape == (4, 2)


def test_one_hot_targets_train_too(scores):
    X, y = scores
    model = DistributionRegressor(**QUICK, sigma=0.0, random_state=0).fit(X, y)
    assert spearmanr(model.predict(X), y).statistic > 0.8


def test_a_constant_target_gets_a_range_around_it():
    X = np.random.default_rng(0).normal(size=(20, 3))
    model = DistributionRegressor(hidden_sizes=(), max_epochs=2, n_bins=3, random_state=0).fit(X, np.full(20, 4.0))
    assert model.bin_centers_[0].tolist() == [3.5, 4.0, 4.5]


@pytest.mark.parametrize(
    ("cls", "param", "value", "message"),
    [
        (DistributionRegressor, "n_bins", 1, "'n_bins' parameter .* int in the range \\[2, 1000\\]"),
        (DistributionRegressor, "n_bins", 2.5, "'n_bins' parameter .* int"),
        (DistributionRegressor, "sigma", -0.1, "'sigma' parameter .* range \\[0.0, inf\\)"),
        (DistributionRegressor, "score_range", (5, 1), "score_range must be \\(low, high\\) with low < high"),
        (CoralRegressor, "n_bins", 0, "'n_bins' parameter .* int in the range"),
        (CoralRegressor, "score_range", (1,), "score_range must be"),
    ],
)
def test_bins_sigma_and_range_out_of_range_are_refused_by_name(scores, cls, param, value, message):
    with pytest.raises(ValueError, match=message):
        cls(**QUICK, **{param: value}).fit(*scores)


def test_coral_probabilities_never_cross(scores):
    """Shared weights and ordered biases: P(score > t_k) does not increase with k (rank consistency)."""
    X, y = scores
    model = CoralRegressor(**QUICK, n_bins=10, random_state=0).fit(X, y)
    with torch.no_grad():
        logits = model.module_(torch.tensor(X, dtype=torch.float64)).numpy()[:, 0, :]
    assert np.all(np.diff(logits, axis=1) <= 1e-12)
    biases = model.module_[-1].biases.detach().numpy()[0]
    assert np.all(np.diff(biases) <= 0)


def test_coral_predicts_inside_the_range_and_learns_the_order(scores):
    X, y = scores
    model = CoralRegressor(**QUICK, random_state=0).fit(X, y)
    predicted = model.predict(X)
    assert predicted.min() >= y.min() - 1e-9 and predicted.max() <= y.max() + 1e-9
    assert spearmanr(predicted, y).statistic > 0.85
    assert len(coral_thresholds(model.bin_centers_[0])) == 19


@pytest.mark.parametrize("cls", [DistributionRegressor, CoralRegressor])
def test_a_fresh_module_takes_the_fitted_weights(scores, cls):
    X, y = scores
    model = cls(**QUICK, random_state=0).fit(X, np.column_stack([y, y]))
    expected = model.predict(X)
    fresh = model._new_module()
    fresh.load_state_dict(model.module_.state_dict())
    model.module_ = fresh
    np.testing.assert_array_equal(model.predict(X), expected)
