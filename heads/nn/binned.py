"""What the ``dist`` and ``coral`` heads share: an MLP whose outputs are read against K score bins.

The bins span a score range per output, read from the training targets (``score_range=None``)
or set; :mod:`clapmos.heads.nn.distribution` holds the formulas. Subclasses say how scores become
network targets (:meth:`BinnedRegressor._network_targets`), what the network ends with
(:meth:`BinnedRegressor._head_layer`), the loss, and how outputs become scores
(:meth:`BinnedRegressor._decode`).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import validate_data
from torch import nn

from clapmos.heads.nn.distribution import BIN_CONSTRAINTS, check_bins, score_bins
from clapmos.heads.mlp import TorchMLPRegressor, build_body


class BinnedRegressor(TorchMLPRegressor):
    """Base of the heads that predict through K bins; not registered itself."""

    sigma = None  # CORAL has no smoothing
    _parameter_constraints: dict = {
        **TorchMLPRegressor._parameter_constraints,
        **BIN_CONSTRAINTS,
    }

    def _check_parameters(self) -> None:
        """The MLP's checks, then the bins' (``score_range`` must be ``(low, high)`` with ``low < high``)."""
        super()._check_parameters()
        check_bins(self.n_bins, self.sigma, self.score_range)

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and scores ``y`` (n_samples,) or (n_samples, n_outputs)."""
        return self._fit_bins(X, y)

    def _fit_bins(self, X, y, listener_scores=None):
        self._check_parameters()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        Y = y.reshape(len(y), -1).astype(np.float64)
        self._y_ndim = y.ndim
        self.bin_centers_ = score_bins(self._range_scores(Y, listener_scores), self.n_bins, self.score_range)
        targets = self._all_targets(Y, listener_scores)
        return self._fit_network(
            X, targets, self._loss, n_outputs=Y.shape[1], truth=Y, decode=lambda out: self._decode(out.double().cpu())
        )

    def predict(self, X) -> np.ndarray:
        """The expected score per output, shaped like the ``y`` seen in ``fit``."""
        return self._shape_output(self._decode(torch.from_numpy(self._predict_network(X))))

    def _build_network(self) -> nn.Module:
        layers, width = build_body(self.n_features_in_, self.hidden_sizes, self.activation, self.dropout)
        return nn.Sequential(*layers, self._head_layer(width))

    def _range_scores(self, Y: np.ndarray, listener_scores) -> np.ndarray:
        """The scores the bins must span when ``score_range`` is not set."""
        return Y

    def _all_targets(self, Y: np.ndarray, listener_scores) -> np.ndarray:
        """The network's targets ``(n, n_outputs, ...)``: :meth:`_network_targets` of every output's scores."""
        return np.stack([self._network_targets(Y[:, t], self.bin_centers_[t]) for t in range(Y.shape[1])], axis=1)

    # -- what a subclass defines -------------------------------------------------------
    def _network_targets(self, scores: np.ndarray, centers: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _head_layer(self, width: int) -> nn.Module:
        raise NotImplementedError

    def _loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _decode(self, output: torch.Tensor) -> np.ndarray:
        raise NotImplementedError
