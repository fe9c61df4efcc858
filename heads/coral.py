"""``coral``: rank-consistent ordinal regression (CORAL) on the MLP of the other torch heads.

K score bins give K - 1 ordered binary tasks "score > t_k" (thresholds halfway between
bin centres). They share one weight vector and differ only by their biases, so their
probabilities never cross; the loss is the sum of their binary cross-entropies and the
prediction the expected rank ``Σ sigmoid(logit_k)`` mapped back onto the bins
(:mod:`clapmos.heads.nn.distribution`).
"""

from __future__ import annotations

import torch
from torch import nn

from clapmos.heads.nn.binned import BinnedRegressor
from clapmos.heads.nn.distribution import coral_decode, coral_loss, coral_targets
from clapmos.heads.registry import HeadSpec, register_head


class CoralLayer(nn.Module):
    """``logit[t, k] = w_t · h + b[t, k]``: one shared weight vector per output, K - 1 biases.

    The biases start in decreasing order, as in the CORAL authors' initialisation.
    """

    def __init__(self, width: int, n_outputs: int, n_thresholds: int):
        super().__init__()
        self.n_outputs = n_outputs
        self.linear = nn.Linear(width, n_outputs, bias=False)
        start = torch.arange(n_thresholds, 0, -1, dtype=torch.float32) / n_thresholds
        self.biases = nn.Parameter(start.repeat(n_outputs, 1))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden).unsqueeze(-1) + self.biases


class CoralRegressor(BinnedRegressor):
    """MLP with a CORAL output: K - 1 shared-weight thresholds, predicting the expected score.

    Parameters
    ----------
    n_bins : int, default=20
        K; the K - 1 thresholds lie halfway between the centres ``linspace(low, high, K)``.
    score_range : (low, high) or None, default=None
        The range the bins span; ``None`` reads it from the training targets, per output.
    hidden_sizes, activation, dropout, optimizer, lr, weight_decay, momentum, batch_size, drop_last, max_epochs, validation_fraction, patience, monitor, lr_schedule, device, random_state
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor`.

    Attributes
    ----------
    bin_centers_ : ndarray of shape (n_outputs, n_bins)
    module_, history_, best_epoch_, n_features_in_, n_outputs_
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor`; the network outputs
        (n_outputs, n_bins - 1) logits.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)); y = np.clip(3 + X[:, 0], 1, 5)
    >>> CoralRegressor(hidden_sizes=(16,), lr=1e-2, random_state=0).fit(X, y).score(X, y) > 0.8
    True
    """

    def __init__(
        self,
        hidden_sizes=(256, 64),
        activation: str = "relu",
        dropout=0.1,
        n_bins: int = 20,
        score_range=None,
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
        self.score_range = score_range
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

    def _network_targets(self, scores, centers):
        return coral_targets(scores, centers)

    def _head_layer(self, width: int) -> nn.Module:
        return CoralLayer(width, self.n_outputs_, self.n_bins - 1)

    def _loss(self, output, target):
        return coral_loss(output, target)

    def _decode(self, output):
        return coral_decode(output.numpy(), self.bin_centers_)


register_head(
    HeadSpec(
        name="coral",
        summary="CORAL ordinal regression: K - 1 shared-weight thresholds on an MLP, predicting the expected score",
        build=lambda random_state=None, **_: CoralRegressor(random_state=random_state),
        types=(CoralRegressor,),
        quick={"hidden_sizes": (16,), "max_epochs": 20, "patience": 5, "lr": 1e-2},
    )
)
