"""A torch multi-layer perceptron as a scikit-learn regressor (no skorch needed)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from heads._training import Loss, TrainingOptions, seed_from, train_module
from heads.losses import POINTWISE_LOSSES
from heads.registry import HeadSpec, register_head

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "identity": nn.Identity}


def build_mlp(n_in: int, hidden_sizes, n_out: int, activation: str = "relu", dropout: float = 0.0) -> nn.Sequential:
    """Linear layers of ``hidden_sizes`` with ``activation`` (and dropout) between them.

    ``hidden_sizes=()`` is a linear model; ``activation="identity"`` with no dropout is
    the MusicEval baseline's stack of affine layers.

    >>> build_mlp(4, (8,), 2)
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=2, bias=True)
    )
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = []
    for width in hidden_sizes:
        layers += [nn.Linear(n_in, int(width)), ACTIVATIONS[activation]()]
        layers += [nn.Dropout(dropout)] if dropout else []
        n_in = int(width)
    return nn.Sequential(*layers, nn.Linear(n_in, n_out))


class TorchMLPRegressor(RegressorMixin, BaseEstimator):
    """Multi-layer perceptron regressor trained with AdamW and early stopping on validation SRCC.

    Targets are standardised per output inside ``fit`` and mapped back in
    ``predict``, so the defaults suit any score scale; inputs are used as given, so put
    a ``StandardScaler`` in front (``make_head`` does). A 2-D ``y`` trains one network
    with one output per column.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(256, 64)
        Widths of the hidden layers; ``()`` is a linear model.
    activation : {"relu", "gelu", "tanh", "identity"}, default="relu"
    dropout : float, default=0.1
        Dropout after every hidden activation.
    loss : {"mse", "l1"}, default="mse"
    lr, weight_decay : float, default=1e-3, 1e-2
        AdamW settings.
    batch_size : int, default=64
    max_epochs : int, default=100
    validation_fraction : float or None, default=0.1
        Share of the training items held out to monitor the Spearman correlation
        (mean over outputs, ties broken by validation loss); 0 or None trains for
        ``max_epochs`` and keeps the last epoch.
    patience : int, default=15
        Epochs without improvement before stopping; the best epoch's weights are kept.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:N]"``.
    random_state : int, RandomState or None, default=None
        Seeds initialisation, dropout, data order and the validation split: the same
        seed gives identical predictions on the same machine and device.

    Attributes
    ----------
    module_ : torch.nn.Sequential
        The network of the best epoch, on the CPU, in float64 (so that a prediction
        does not depend on which other rows share its batch).
    history_ : list of dict
        Per epoch (0 = before training): ``epoch``, ``train_loss``, ``val_loss``, ``val_srcc``.
    best_epoch_ : int
    n_features_in_, n_outputs_ : int
    target_mean_, target_scale_ : ndarray of shape (n_outputs,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = X @ [1.0, 2.0, 0.0, 0.0, -1.0]
    >>> model = TorchMLPRegressor(hidden_sizes=(16,), lr=1e-2, random_state=0).fit(X, y)
    >>> model.predict(X[:3]).shape, model.score(X, y) > 0.9
    ((3,), True)
    """

    def __init__(
        self,
        hidden_sizes=(256, 64),
        activation: str = "relu",
        dropout: float = 0.1,
        loss: str = "mse",
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        batch_size: int = 64,
        max_epochs: int = 100,
        validation_fraction: float | None = 0.1,
        patience: int = 15,
        device: str = "auto",
        random_state=None,
    ):
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.dropout = dropout
        self.loss = loss
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and ``y`` (n_samples,) or (n_samples, n_outputs)."""
        if self.loss not in POINTWISE_LOSSES:
            raise ValueError(f"loss must be one of {sorted(POINTWISE_LOSSES)}, got {self.loss!r}")
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        Y = y.reshape(len(y), -1).astype(np.float64)
        self.target_mean_ = Y.mean(axis=0)
        scale = Y.std(axis=0)
        self.target_scale_ = np.where(scale > 0, scale, 1.0)
        self._y_ndim = y.ndim
        return self._fit_network(X, (Y - self.target_mean_) / self.target_scale_, POINTWISE_LOSSES[self.loss])

    def predict(self, X) -> np.ndarray:
        """Predictions on the scale of ``y``."""
        return self._shape_output(self._predict_network(X) * self.target_scale_ + self.target_mean_)

    # -- shared with the SPO regressor -------------------------------------------------
    def _fit_network(self, X: np.ndarray, Y: np.ndarray, loss_fn: Loss):
        """Train the network on targets ``Y`` (n, n_outputs); sets the learned attributes."""
        self.n_outputs_ = Y.shape[1]
        result = train_module(self._build_network, X, Y, loss_fn, self._training_options(), seed_from(self.random_state))
        self.module_ = result.module.double()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        return self

    def _build_network(self) -> nn.Sequential:
        return build_mlp(self.n_features_in_, self.hidden_sizes, self.n_outputs_, self.activation, self.dropout)

    def _new_module(self) -> nn.Sequential:
        """A fresh network shaped like ``module_`` (float64, eval mode), to load saved weights into."""
        return self._build_network().double().eval()

    def _training_options(self) -> TrainingOptions:
        return TrainingOptions.of(self)

    def _predict_network(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        with torch.no_grad():
            return self.module_(torch.tensor(X, dtype=torch.float64)).numpy()

    def _shape_output(self, Y: np.ndarray) -> np.ndarray:
        return Y.ravel() if self._y_ndim == 1 else Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


register_head(
    HeadSpec(
        name="mlp",
        summary="torch MLP (hidden sizes, activation, dropout, mse/l1), AdamW, early stopping on validation SRCC",
        build=lambda random_state=None, **_: TorchMLPRegressor(random_state=random_state),
        types=(TorchMLPRegressor,),
        quick={"hidden_sizes": (16,), "max_epochs": 20, "patience": 5, "lr": 1e-2},
    )
)
