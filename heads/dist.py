"""``dist``: an MLP that predicts a distribution over K score bins (the AudioMOS 2025 Track-1 winner's head).

Trained with ``KL(p ‖ q)`` against Gaussian-smoothed targets (σ in score units; one-hot
at σ = 0), it predicts the distribution's mean; ``predict(X, return_std=True)`` also
gives its standard deviation and ``predict_distribution(X)`` the probabilities of the
bins whose centres are ``bin_centers_`` (formulas in :mod:`clapmos.heads.nn.distribution`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from clapmos.heads.nn.binned import BinnedRegressor
import warnings

from sklearn.utils._param_validation import StrOptions

from clapmos.heads.inputs.ratings import NoListenerRatingsWarning
from clapmos.heads.nn.distribution import (
    DISTRIBUTION_TARGETS,
    bin_probabilities,
    distribution_mean,
    distribution_std,
    gaussian_targets,
    kl_divergence,
    rating_histograms,
)
from clapmos.heads.registry import HeadSpec, register_head


class DistributionRegressor(BinnedRegressor):
    """MLP over K score bins, trained with KL divergence against Gaussian-smoothed targets.

    Parameters
    ----------
    n_bins : int, default=20
        K, the number of bins; their centres are ``linspace(low, high, K)``.
    sigma : float, default=0.25
        Standard deviation of the target Gaussians, in score units (0.25 on MusicEval's
        1-5 scale as published); 0 gives one-hot targets on the nearest bin.
    score_range : (low, high) or None, default=None
        The range the bins span; ``None`` reads it from the training targets (and ratings), per output.
        Scores outside it are clamped to it.
    distribution_targets : {"gaussian", "histogram"}, default="gaussian"
        Train on a Gaussian (``sigma``) around each clip's score ``y``, or on the histogram of
        its listeners' ratings (``listener_scores`` in ``fit``; each rating smoothed by
        ``sigma``; clips without ratings fall back to the Gaussian). With histograms the
        predicted spread (``predict_spread``) estimates how much the listeners disagree.
    hidden_sizes, activation, dropout, optimizer, lr, weight_decay, momentum, batch_size, drop_last, max_epochs, validation_fraction, patience, monitor, lr_schedule, device, random_state
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor` (early stopping reads the
        Spearman correlation of the predicted means).

    Attributes
    ----------
    bin_centers_ : ndarray of shape (n_outputs, n_bins)
    module_ : torch.nn.Sequential
        The network (n_outputs x n_bins logits), float64, on the CPU.
    history_, best_epoch_, n_features_in_, n_outputs_
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)); y = np.clip(3 + X[:, 0], 1, 5)
    >>> model = DistributionRegressor(hidden_sizes=(16,), lr=1e-2, random_state=0).fit(X, y)
    >>> mean, std = model.predict(X[:2], return_std=True)
    >>> model.predict_distribution(X[:2]).shape, model.bin_centers_.shape, bool((std > 0).all())
    ((2, 20), (1, 20), True)
    """

    def __init__(
        self,
        hidden_sizes=(256, 64),
        activation: str = "relu",
        dropout=0.1,
        n_bins: int = 20,
        sigma: float = 0.25,
        score_range=None,
        distribution_targets: str = "gaussian",
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        momentum: float = 0.9,
        batch_size: int = 64,
        drop_last: bool = False,
        max_epochs: int = 100,
        validation_fraction: float | None = 0.1,
        patience: int = 15,
        monitor: str = "srcc",
        lr_schedule: str = "constant",
        device: str = "auto",
        random_state=None,
    ):
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.dropout = dropout
        self.n_bins = n_bins
        self.sigma = sigma
        self.score_range = score_range
        self.distribution_targets = distribution_targets
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.monitor = monitor
        self.lr_schedule = lr_schedule
        self.device = device
        self.random_state = random_state

    __metadata_request__fit = {"listener_scores": True, "listener_ids": True}
    _parameter_constraints: dict = {
        **BinnedRegressor._parameter_constraints,
        "distribution_targets": [StrOptions(set(DISTRIBUTION_TARGETS))],
    }

    def fit(self, X, y, listener_scores=None, listener_ids=None):
        """Train on ``X`` and clip scores ``y``; ``listener_scores`` (n, k[, n_outputs], NaN-padded) for histogram targets.

        ``listener_ids`` is accepted (fit metadata, as the SPO heads take it) and not read.
        """
        if self.distribution_targets == "histogram" and listener_scores is None:
            warnings.warn("distribution_targets='histogram' without listener_scores: training on Gaussians around y",
                          NoListenerRatingsWarning, stacklevel=2)
        if self.distribution_targets != "histogram":
            listener_scores = None
        return self._fit_bins(X, y, listener_scores)

    def _ratings(self, Y: np.ndarray, listener_scores) -> np.ndarray:
        scores = np.asarray(listener_scores, dtype=float)
        if len(scores) != len(Y) or scores.ndim not in (2, 3) or (scores.ndim == 3 and scores.shape[2] != Y.shape[1]) or (scores.ndim == 2 and Y.shape[1] != 1):
            raise ValueError(f"listener_scores of shape {scores.shape} must be (n_samples, k[, n_outputs]) for y of shape {Y.shape}")
        return scores.reshape(len(Y), -1, Y.shape[1])

    def _range_scores(self, Y: np.ndarray, listener_scores) -> np.ndarray:
        if listener_scores is None:
            return Y
        ratings = self._ratings(Y, listener_scores)
        low, high = np.fmin(Y.min(axis=0), np.nanmin(ratings, axis=(0, 1))), np.fmax(Y.max(axis=0), np.nanmax(ratings, axis=(0, 1)))
        return np.vstack([Y, low, high])

    def _all_targets(self, Y: np.ndarray, listener_scores) -> np.ndarray:
        if listener_scores is None:
            return super()._all_targets(Y, listener_scores)
        ratings = self._ratings(Y, listener_scores)
        return np.stack(
            [rating_histograms(ratings[:, :, t], self.bin_centers_[t], float(self.sigma), Y[:, t]) for t in range(Y.shape[1])], axis=1
        )

    def predict_spread(self, X) -> np.ndarray:
        """The predicted distribution's standard deviation: with histogram targets, the listeners' expected disagreement."""
        return self.predict(X, return_std=True)[1]

    def predict(self, X, return_std: bool = False):
        """The mean of the predicted distribution; with ``return_std``, also its standard deviation."""
        probabilities = self._probabilities(X)
        mean = self._shape_output(distribution_mean(probabilities, self.bin_centers_))
        if not return_std:
            return mean
        return mean, self._shape_output(distribution_std(probabilities, self.bin_centers_))

    def predict_distribution(self, X) -> np.ndarray:
        """Probabilities of the bins ``bin_centers_``: ``(n, n_bins)`` for a 1-D ``y``, else ``(n, n_outputs, n_bins)``."""
        probabilities = self._probabilities(X)
        return probabilities[:, 0] if self._y_ndim == 1 else probabilities

    def _probabilities(self, X) -> np.ndarray:
        return bin_probabilities(torch.from_numpy(self._predict_network(X)), self.n_bins)

    def _network_targets(self, scores, centers):
        return gaussian_targets(scores, centers, float(self.sigma))

    def _head_layer(self, width: int) -> nn.Module:
        return nn.Linear(width, self.n_outputs_ * self.n_bins)

    def _loss(self, output, target):
        return kl_divergence(output.view(len(output), self.n_outputs_, self.n_bins), target)

    def _decode(self, output):
        return distribution_mean(bin_probabilities(output, self.n_bins), self.bin_centers_)


register_head(
    HeadSpec(
        name="dist",
        summary="MLP over K score bins, KL to Gaussian-smoothed targets; predicts the mean (and std, distribution)",
        build=lambda random_state=None, **_: DistributionRegressor(random_state=random_state),
        listener_ratings=True,
        types=(DistributionRegressor,),
        quick={"hidden_sizes": (16,), "max_epochs": 20, "patience": 5, "lr": 1e-2},
    )
)
