"""TorchMLPRegressor: seeded, early-stopped on validation SRCC, shape-faithful."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from clapmos.heads import TorchMLPRegressor
from clapmos.heads.mlp import build_mlp

QUICK = {"hidden_sizes": (16,), "max_epochs": 15, "lr": 1e-2, "patience": 5}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 6))
    y = np.tanh(X[:, 0]) + 0.5 * X[:, 1] + 0.1 * rng.normal(size=160)
    return X, y


def test_the_same_random_state_gives_identical_predictions(data):
    X, y = data
    first = TorchMLPRegressor(**QUICK, random_state=3).fit(X, y).predict(X)
    second = TorchMLPRegressor(**QUICK, random_state=3).fit(X, y).predict(X)
    other = TorchMLPRegressor(**QUICK, random_state=4).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_fitting_leaves_the_global_torch_random_state_alone(data):
    before = torch.get_rng_state()
    TorchMLPRegressor(**QUICK, random_state=0).fit(*data)
    assert torch.equal(before, torch.get_rng_state())


def test_it_learns_the_ranking(data):
    X, y = data
    model = TorchMLPRegressor(hidden_sizes=(32,), lr=1e-2, max_epochs=60, random_state=0).fit(X[:120], y[:120])
    assert spearmanr(model.predict(X[120:]), y[120:]).statistic > 0.85


@pytest.mark.parametrize("shape", [(160,), (160, 1), (160, 2)])
def test_predictions_have_the_shape_of_y(data, shape):
    X, y = data
    Y = np.column_stack([y, -y])[:, : (shape[1] if len(shape) == 2 else 1)].reshape(shape)
    model = TorchMLPRegressor(**QUICK, random_state=0).fit(X, Y)
    assert model.predict(X[:7]).shape == (7, *shape[1:])
    assert model.n_outputs_ == (shape[1] if len(shape) == 2 else 1)


def test_history_records_every_epoch_and_the_best_one_is_kept(data):
    model = TorchMLPRegressor(hidden_sizes=(16,), lr=1e-2, max_epochs=40, patience=4, random_state=0).fit(*data)
    history = model.history_
    assert [h["epoch"] for h in history] == list(range(len(history)))
    assert set(history[0]) == {"epoch", "train_loss", "val_loss", "val_srcc"}
    best = max(history, key=lambda h: (h["val_srcc"], -h["val_loss"]))
    assert model.best_epoch_ == best["epoch"]
    assert len(history) - 1 <= model.best_epoch_ + 4


def test_the_restored_weights_are_those_of_the_best_epoch(data):
    X, y = data
    stopped = TorchMLPRegressor(**QUICK, random_state=0).fit(X, y)
    rerun = TorchMLPRegressor(**{**QUICK, "max_epochs": stopped.best_epoch_, "patience": 10_000}, random_state=0)
    np.testing.assert_allclose(rerun.fit(X, y).predict(X), stopped.predict(X), rtol=1e-6)


def test_without_a_validation_fraction_every_epoch_runs_and_the_last_is_kept(data):
    model = TorchMLPRegressor(**{**QUICK, "validation_fraction": 0}, random_state=0).fit(*data)
    assert model.best_epoch_ == 15 and len(model.history_) == 16
    assert np.isnan(model.history_[-1]["val_srcc"])


def test_too_few_samples_for_validation_train_without_early_stopping_and_say_so():
    with pytest.warns(UserWarning, match="no usable validation set"):
        model = TorchMLPRegressor(**QUICK, random_state=0).fit(np.eye(5), np.arange(5.0))
    assert model.best_epoch_ == 15


def test_predictions_follow_an_affine_change_of_the_targets(data):
    X, y = data
    base = TorchMLPRegressor(**QUICK, random_state=0).fit(X, y).predict(X)
    scaled = TorchMLPRegressor(**QUICK, random_state=0).fit(X, 1000 * y + 7).predict(X)
    np.testing.assert_allclose(scaled, 1000 * base + 7, rtol=1e-5)


def test_l1_loss_trains(data):
    X, y = data
    model = TorchMLPRegressor(**{**QUICK, "loss": "l1", "max_epochs": 40}, random_state=0).fit(X, y)
    assert model.score(X, y) > 0.5


@pytest.mark.parametrize(
    ("param", "value", "allowed"),
    [
        ("loss", "huber", "a str among"),
        ("activation", "swish", "a str among"),
        ("batch_size", 0, "an int in the range [1, inf)"),
        ("validation_fraction", 1.5, "a float in the range [0.0, 1.0) or None"),
        ("device", "tpu", "'auto', 'cpu', 'cuda' or 'cuda:N'"),
        ("dropout", 1.0, "a float in the range [0.0, 1.0)"),
        ("lr", -1, "a float in the range (0.0, inf)"),
        ("hidden_sizes", "banana", "an array-like"),
        ("hidden_sizes", (64, 0), "a sequence of integers >= 1"),
    ],
)
def test_bad_settings_are_refused_at_fit_naming_the_setting_and_what_is_allowed(data, param, value, allowed):
    expected = rf"The '{param}' parameter of TorchMLPRegressor must be {re.escape(allowed)}"
    with pytest.raises(ValueError, match=expected):
        TorchMLPRegressor(**{**QUICK, param: value}).fit(*data)
    with pytest.raises(ValueError, match=expected):  # the same check, callable before any data is read
        TorchMLPRegressor(**{**QUICK, param: value})._check_parameters()


def test_baseline_style_network_is_a_stack_of_affine_layers():
    net = build_mlp(1024, (256, 64), 1, activation="identity")
    assert [type(m).__name__ for m in net] == ["Linear", "Identity", "Linear", "Identity", "Linear"]


def test_a_fresh_module_takes_the_fitted_weights(data):
    X, y = data
    model = TorchMLPRegressor(**QUICK, random_state=0).fit(X, y)
    expected = model.predict(X)
    fresh = model._new_module()
    fresh.load_state_dict(model.module_.state_dict())
    model.module_ = fresh
    np.testing.assert_array_equal(model.predict(X), expected)
