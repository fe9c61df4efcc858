"""The shared training loop's options: optimisers, drop-last batches, schedules, per-sample loss arguments, decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from clapmos.heads import TorchMLPRegressor
from clapmos.heads.nn.training import TrainingOptions, train_module
from clapmos.heads.mlp import build_mlp

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small networks: see conftest
BASE = dict(lr=1e-2, weight_decay=0.0, batch_size=8, max_epochs=2, validation_fraction=None, patience=5, device="cpu")


def options(**changes) -> TrainingOptions:
    return TrainingOptions(**{**BASE, **changes})


@pytest.mark.parametrize(
    ("name", "cls", "extra"),
    [("adamw", torch.optim.AdamW, {}), ("adam", torch.optim.Adam, {}), ("sgd", torch.optim.SGD, {"momentum": 0.9})],
)
def test_the_optimiser_is_the_one_named(name, cls, extra):
    optimizer = options(optimizer=name, lr=5e-4).make_optimizer(nn.Linear(2, 1).parameters())
    assert type(optimizer) is cls and optimizer.defaults["lr"] == 5e-4
    for key, value in extra.items():
        assert optimizer.defaults[key] == value


@pytest.mark.parametrize(
    ("change", "message"),
    [({"optimizer": "rmsprop"}, "'optimizer' parameter .* must be a str among"), ({"momentum": 1.0}, "'momentum' parameter .* in the range"),
     ({"lr_schedule": "step"}, "'lr_schedule' parameter .* must be a str among"), ({"monitor": "mse"}, "'monitor' parameter"),
     ({"drop_last": "yes"}, "'drop_last' parameter .* must be an instance of 'bool'")],
)
def test_bad_training_options_are_refused_by_the_heads_own_validation(change, message):
    with pytest.raises(ValueError, match=message):
        TorchMLPRegressor(**change).fit(np.zeros((10, 2)), np.arange(10.0))


def recorded_batches(n: int, **change) -> list[list[int]]:
    """The rows of every training batch (of every epoch), as the loss receives them through ``extras``."""
    seen: list[list[int]] = []

    def loss(pred, target, row):
        seen.append(row.long().tolist())
        return ((pred - target) ** 2).mean()

    X = np.random.default_rng(0).normal(size=(n, 3))
    train_module(lambda: nn.Linear(3, 1), X, X[:, :1], loss, options(**change), seed=0, extras={"row": np.arange(n)})
    return seen


def test_drop_last_skips_the_incomplete_batch():
    assert sorted(len(b) for b in recorded_batches(20)[:3]) == [4, 8, 8]
    batches = recorded_batches(20, drop_last=True)
    assert [len(b) for b in batches] == [8, 8, 8, 8]  # 2 epochs of 2 full batches
    assert [len(b) for b in recorded_batches(5, drop_last=True)] == [5, 5]  # a lone short batch is kept


def test_per_sample_arguments_follow_their_rows():
    batches = recorded_batches(20)
    assert sorted(sum(batches[:3], [])) == list(range(20))  # each epoch sees every row once, with its own value


def test_a_cosine_schedule_changes_training_only_after_the_first_epoch():
    X = np.random.default_rng(0).normal(size=(40, 3))
    Y = X @ np.array([[1.0], [2.0], [-1.0]])

    def weights(**change):
        result = train_module(lambda: nn.Linear(3, 1), X, Y, nn.functional.mse_loss, options(**change), seed=0)
        return result.module.weight.detach().numpy()

    np.testing.assert_array_equal(weights(max_epochs=1, lr_schedule="cosine"), weights(max_epochs=1))
    assert not np.allclose(weights(max_epochs=3, lr_schedule="cosine"), weights(max_epochs=3))


def test_validation_srcc_is_computed_on_the_decoded_output():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    truth = X[:, :1]
    result = train_module(
        lambda: nn.Linear(2, 1), X, -truth, nn.functional.mse_loss, options(validation_fraction=0.3, max_epochs=30), seed=0,
        decode=lambda out: -out.numpy(), truth=truth,
    )
    assert result.history[-1]["val_srcc"] > 0.9  # the network learns -truth; decoded, it ranks like the truth


def test_the_mlp_passes_class_balanced_weights_from_the_raw_scores():
    y = np.array([0.5, 1.2, 1.7, 9.5, 9.9, 5.0])
    model = TorchMLPRegressor(class_balance="published", beta=0.9)
    loss, extras = model._regression_loss(y[:, None])
    counts = np.array([1, 2, 2, 2, 2, 1])  # by hand: [-1, 1) once, [1, 2) twice, [9, 10] twice, [5, 6) once
    np.testing.assert_allclose(extras["weight"][:, 0], (1 - 0.9) / (1 - 0.9**counts))
    assert (loss.kind, loss.class_weighting) == ("mse", "published")
    assert TorchMLPRegressor()._regression_loss(y[:, None])[1] == {}


@pytest.mark.parametrize("balance", ["published", "per_clip"])
def test_class_balanced_clipped_mse_with_pairwise_trains(balance):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = np.clip(5 + 2 * X[:, 0], 0, 10)
    model = TorchMLPRegressor(
        hidden_sizes=(16,), loss="clipped_mse", pairwise_weight=0.5, class_balance=balance, target_scaling=(5, 5),
        lr=1e-2, batch_size=12, drop_last=True, max_epochs=30, random_state=0,
    ).fit(X, y)
    assert model.score(X, y) > 0.8
    np.testing.assert_allclose([model.target_mean_[0], model.target_scale_[0]], [5.0, 5.0])


def test_raw_targets_are_learnt_on_the_raw_scale():
    X = np.random.default_rng(0).normal(size=(50, 2))
    model = TorchMLPRegressor(hidden_sizes=(), target_scaling="none", max_epochs=1).fit(X, 3 + X[:, 0])
    assert (model.target_mean_.tolist(), model.target_scale_.tolist()) == ([0.0], [1.0])


def test_per_layer_dropout():
    net = build_mlp(1536, (1024, 256), 1, dropout=(0.3, 0.0))
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Linear"]
    assert net[2].p == 0.3
    with pytest.raises(ValueError, match="one rate per hidden layer"):
        build_mlp(4, (8, 8), 1, dropout=(0.1,))


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [("loss", "huber", "'loss' parameter .* among"), ("tau", -1.0, "'tau' parameter .* range"),
     ("class_balance", "yes", "'class_balance' parameter"), ("beta", 1.0, "'beta' parameter .* range"),
     ("class_edges", (3, 1), "'class_edges' parameter must be at least two increasing"),
     ("target_scaling", "minmax", "'target_scaling' parameter"), ("target_scaling", (5, 0), r"target_scaling must be .* 1e-12 <= \|scale\| <= 1e12"), ("target_scaling", (5, 1e-320), r"1e-12 <= \|scale\|"),
     ("pairwise_weight", -1.0, "'pairwise_weight' parameter"), ("optimizer", "lbfgs", "'optimizer' parameter")],
)
def test_bad_loss_settings_are_refused_at_fit_by_name(param, value, message):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=message):
        TorchMLPRegressor(**{param: value}).fit(X, X[:, 0])


def test_keep_initial_false_never_keeps_the_untrained_network():
    """Training that only makes validation worse: the default keeps epoch 0, keep_initial=False the best trained epoch."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X[:, 0] + 0.1 * rng.normal(size=60)
    settings = dict(hidden_sizes=(4,), lr=5.0, optimizer="sgd", max_epochs=4, patience=10, monitor="loss", random_state=0)
    kept = TorchMLPRegressor(**settings).fit(X, -y)  # a huge learning rate: every epoch worse than the start
    assert kept.best_epoch_ == 0
    trained = TorchMLPRegressor(**settings, keep_initial=False).fit(X, -y)
    losses = [h["val_loss"] for h in trained.history_[1:]]
    assert trained.best_epoch_ == 1 + int(np.nanargmin(losses)) >= 1
