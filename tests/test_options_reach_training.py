"""Every head option that should change the model is shown to reach training: each test here fails when
the option is ignored (checked by breaking each one in turn, see the issue-20 report).

The torch heads are read through the loss their training loop reports before the first epoch
(``history_[0]["val_loss"]``, on the seed's validation rows, from the untrained network): it must
equal the loss written out here from the formulas of METHODS.md with the option's value. The SVR
is read through its fitted dual problem.
"""

from __future__ import annotations

import numpy as np
import pytest

from clapmos.embed.store.frames import Frames
from clapmos.heads import AttentionMLPRegressor, DistributionRegressor, SvrRegressor, TorchMLPRegressor
from clapmos.heads.nn.training import validation_split

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- svr: C and gamma
@pytest.fixture
def svr_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    return X, 5 + 3 * np.sin(X[:, 0]) + X[:, 1] + 0.3 * rng.normal(size=80)


def test_svr_c_bounds_every_dual_coefficient_and_the_noisy_ones_reach_it(svr_data):
    X, y = svr_data
    for C in (0.05, 3.0):
        (svr,) = SvrRegressor(C=C, epsilon=0.01).fit(X, y).estimators_
        alphas = np.abs(svr.dual_coef_).ravel()
        assert alphas.max() == pytest.approx(C) and (alphas <= C * (1 + 1e-9)).all()


@pytest.mark.parametrize("gamma", [0.05, 2.0, "scale"])
def test_svr_gamma_is_the_width_of_the_rbf_kernel_of_its_predictions(svr_data, gamma):
    X, y = svr_data
    model = SvrRegressor(C=1.0, gamma=gamma, target_scaling=(5.0, 2.0)).fit(X, y)
    (svr,) = model.estimators_
    width = 1.0 / (X.shape[1] * X.var()) if gamma == "scale" else gamma
    kernel = np.exp(-width * ((X[:10, None, :] - svr.support_vectors_[None]) ** 2).sum(-1))
    by_hand = 5.0 + 2.0 * (kernel @ svr.dual_coef_.ravel() + svr.intercept_[0])  # targets (y - 5) / 2, mapped back
    np.testing.assert_allclose(model.predict(X[:10]), by_hand, rtol=1e-10)


# --------------------------------------------------------------------------- torch heads: the training loss
@pytest.fixture
def scores():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 4))
    y = np.clip(5 + 2 * X[:, 0] + rng.normal(size=90), 0, 10)
    y[:50] = np.round(y[:50])  # ties and crowded classes
    return X, y


def untrained(model, X, y):
    """The model after zero epochs (the network its training starts from) and its seed's validation rows."""
    model.set_params(max_epochs=0, validation_fraction=0.3, random_state=7).fit(X, y)
    _, val = validation_split(len(X), 0.3, 7)
    return model, val


def pairwise(p: np.ndarray, t: np.ndarray, margin: float, w: np.ndarray | None = None) -> float:
    """Mean over all B×B ordered pairs of max(0, |(p_i − p_j) − (t_i − t_j)| − margin) (× sqrt(w_i w_j)), halved."""
    terms = np.maximum(0.0, np.abs((p[:, None] - p[None]) - (t[:, None] - t[None])) - margin)
    if w is not None:
        terms = terms * np.sqrt(w[:, None] * w[None])
    return terms.mean() / 2


def class_weights(y_all: np.ndarray, rows: np.ndarray, beta: float) -> np.ndarray:
    """(1 − β)/(1 − β^n_c), n_c the clips of y_all in the clip's bin of [−1, 1, 2, …, 10], normalised over ``rows``."""
    edges = np.array([-1.0, *range(1, 11)])
    bins = np.clip(np.digitize(y_all, edges) - 1, 0, 9)
    n_c = np.array([np.sum(bins == b) for b in bins])
    w = ((1 - beta) / (1 - beta**n_c))[rows]
    return w / w.sum()


MLP = {"hidden_sizes": (8,), "target_scaling": "none"}


@pytest.mark.parametrize(
    ("settings", "loss"),
    [
        ({"loss": "clipped_mse", "tau": 1.5}, lambda p, t, y, rows: np.mean(np.where(np.abs(p - t) > 1.5, (p - t) ** 2, 0.0))),
        ({"loss": "mse", "pairwise_weight": 0.7, "margin": 0.2}, lambda p, t, y, rows: np.mean((p - t) ** 2) + 0.7 * pairwise(p, t, 0.2)),
        ({"class_balance": "per_clip", "beta": 0.9},
         lambda p, t, y, rows: np.sum(class_weights(y, rows, 0.9) * (p - t) ** 2)),
        ({"class_balance": "published", "beta": 0.9, "pairwise_weight": 0.5},
         lambda p, t, y, rows: np.mean((p - t) ** 2) / len(p) + 0.5 * pairwise(p, t, 0.1, class_weights(y, rows, 0.9))),
        ({"target_scaling": (5.0, 2.0)}, lambda p, t, y, rows: np.mean(((p - 5) / 2 - (t - 5) / 2) ** 2)),
    ],
    ids=["clipped_mse", "pairwise_weight", "class_balance_per_clip", "class_balance_published", "target_scaling"],
)
def test_the_mlp_trains_on_the_loss_its_options_name(scores, settings, loss):
    X, y = scores
    model, val = untrained(TorchMLPRegressor(**{**MLP, **settings}), X, y)
    predicted = model.predict(X[val])
    assert model.history_[0]["val_loss"] == pytest.approx(loss(predicted, y[val], y, val), rel=1e-4)


def test_the_dist_head_trains_towards_gaussians_of_its_sigma(scores):
    X, y = scores
    centers = np.linspace(0, 10, 11)
    for sigma in (0.3, 1.5):
        model, val = untrained(DistributionRegressor(hidden_sizes=(8,), n_bins=11, score_range=(0.0, 10.0), sigma=sigma), X, y)
        q = model.predict_distribution(X[val])
        p = np.exp(-((y[val, None] - centers) ** 2) / (2 * sigma**2))
        p /= p.sum(axis=1, keepdims=True)
        kl = np.mean(np.sum(p * (np.log(np.maximum(p, 1e-300)) - np.log(q)), axis=1))
        assert model.history_[0]["val_loss"] == pytest.approx(kl, rel=1e-4)


def test_a_frame_head_learns_distributions_as_wide_as_its_sigma():
    """A simulation: trained towards Gaussians of σ, the predicted spread follows σ."""
    rng = np.random.default_rng(2)
    sequences = [rng.normal(size=(int(rng.integers(3, 7)), 4)) for _ in range(60)]
    frames = Frames.from_list(sequences, [np.arange(len(s)) * 0.2 for s in sequences])
    y = np.clip(3 + np.array([s[:, 0].mean() for s in sequences]), 1, 5)
    spread = {}
    for sigma in (0.15, 0.9):
        model = AttentionMLPRegressor(d_model=16, n_heads=2, hidden_sizes=(16,), output="distribution", n_bins=20, score_range=(1.0, 5.0),
                                      sigma=sigma, max_epochs=60, patience=60, lr=1e-2, random_state=0).fit(frames, y)
        spread[sigma] = float(np.mean(model.predict(frames, return_std=True)[1]))
    assert spread[0.9] > spread[0.15] + 0.3
