"""A torch multi-layer perceptron as a scikit-learn regressor (no skorch needed)."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from clapmos.heads.nn.training import TRAINING_CONSTRAINTS, Loss, TrainingOptions, check_device_name, seed_from, train_module
from clapmos.heads.nn.losses import CLASS_WEIGHTINGS, POINTWISE, XACLE_CLASS_EDGES, RegressionLoss, check_class_edges, class_balanced_weights, class_counts
from clapmos.heads.registry import HeadSpec, register_head
from clapmos.heads.inputs.targets import SCALINGS, check_target_scaling, target_affine

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "identity": nn.Identity}


def check_hidden_sizes(hidden_sizes, owner: str) -> list:
    """``hidden_sizes`` as a list, or ``ValueError`` unless it is a sequence of integers >= 1.

    >>> check_hidden_sizes((8, 4), "TorchMLPRegressor")
    [8, 4]
    """
    sizes = hidden_sizes.tolist() if isinstance(hidden_sizes, np.ndarray) else hidden_sizes
    if not all(isinstance(w, Integral) and not isinstance(w, bool) and w >= 1 for w in sizes):
        raise ValueError(
            f"The 'hidden_sizes' parameter of {owner} must be a sequence of integers >= 1 "
            f"(() for a linear model). Got {hidden_sizes!r} instead."
        )
    return list(sizes)


def layer_dropouts(hidden_sizes: Sequence[int], dropout) -> list[float]:
    """One dropout rate per hidden layer from a number (every layer) or a sequence (layer by layer).

    >>> layer_dropouts((1024, 256), 0.1), layer_dropouts((1024, 256), (0.3, 0.0))
    ([0.1, 0.1], [0.3, 0.0])
    """
    rates = [dropout] * len(hidden_sizes) if isinstance(dropout, (int, float, np.floating)) else list(dropout)
    if len(rates) != len(hidden_sizes):
        raise ValueError(f"dropout must be a number or one rate per hidden layer ({len(hidden_sizes)}), got {dropout!r}")
    if not all(0 <= float(rate) < 1 for rate in rates):
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return [float(rate) for rate in rates]


def build_body(n_in: int, hidden_sizes, activation: str = "relu", dropout=0.0) -> tuple[list[nn.Module], int]:
    """The hidden layers (Linear, activation, [dropout]) of an MLP, and the width they end with."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    layers: list[nn.Module] = []
    for width, rate in zip(hidden_sizes, layer_dropouts(hidden_sizes, dropout)):
        layers += [nn.Linear(n_in, int(width)), ACTIVATIONS[activation]()]
        layers += [nn.Dropout(rate)] if rate else []
        n_in = int(width)
    return layers, n_in


def build_mlp(n_in: int, hidden_sizes, n_out: int, activation: str = "relu", dropout=0.0) -> nn.Sequential:
    """Linear layers of ``hidden_sizes`` with ``activation`` (and dropout) between them.

    ``hidden_sizes=()`` is a linear model; ``activation="identity"`` with no dropout is
    the MusicEval baseline's stack of affine layers. ``dropout`` is one rate for every
    hidden layer or one per layer (``(0.3, 0.0)``: the XACLE 2027 baseline).

    >>> build_mlp(4, (8,), 2)
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=2, bias=True)
    )
    """
    layers, width = build_body(n_in, hidden_sizes, activation, dropout)
    return nn.Sequential(*layers, nn.Linear(width, n_out))


class TorchMLPRegressor(RegressorMixin, BaseEstimator):
    """Multi-layer perceptron regressor trained with early stopping on validation SRCC.

    Targets are standardised per output inside ``fit`` and mapped back in
    ``predict`` (``target_scaling``), so the defaults suit any score scale; inputs are
    used as given, so put a ``StandardScaler`` in front (``make_head`` does). A 2-D
    ``y`` trains one network with one output per column.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(256, 64)
        Widths of the hidden layers; ``()`` is a linear model.
    activation : {"relu", "gelu", "tanh", "identity"}, default="relu"
    dropout : float or tuple of float, default=0.1
        Dropout after every hidden activation, or one rate per hidden layer.
    loss : {"mse", "l1", "clipped_mse"}, default="mse"
        ``clipped_mse`` ignores errors of at most ``tau`` (in scaled target units).
    tau : float, default=0.25
    pairwise_weight : float, default=0.0
        Weight of the pairwise hinge term (:func:`clapmos.heads.nn.losses.pairwise_hinge`) added to the loss.
    margin : float, default=0.1
        Margin of the pairwise term, in scaled target units.
    class_balance : {None, "published", "per_clip"}, default=None
        Class-balanced weights (:mod:`clapmos.heads.nn.losses`): ``"published"`` reproduces the
        XACLE 2027 baseline's code (a constant 1/B scale on the pointwise term, pair
        weights ``sqrt(w_i w_j)``); ``"per_clip"`` weighs every clip's error.
    beta : float, default=0.99
        β of the class-balanced weights.
    class_edges : sequence of float or None, default=None
        Class bins on the raw score scale; ``None`` is the XACLE 2027 baseline's
        ``[-1, 1, 2, ..., 10]``.
    target_scaling : "standardize", "none" or (center, scale), default="standardize"
        See :mod:`clapmos.heads.inputs.targets`; ``(5, 5)`` is the XACLE baselines' ``(y - 5) / 5``.
    optimizer : {"adamw", "adam", "sgd"}, default="adamw"
    lr, weight_decay : float, default=1e-3, 1e-2
    momentum : float, default=0.9
        SGD only.
    batch_size : int, default=64
    drop_last : bool, default=False
        Skip the last, incomplete mini-batch of every epoch.
    max_epochs : int, default=100
    validation_fraction : float or None, default=0.1
        Share of the training items held out to monitor early stopping; 0 or None
        trains for ``max_epochs`` and keeps the last epoch.
    keep_initial : bool, default=True
        Whether the untrained network (epoch 0, scored before training) may be kept as
        the best; ``False`` keeps the best trained epoch, as the XACLE baseline's code does.
    patience : int, default=15
        Epochs without improvement before stopping; the best epoch's weights are kept.
    monitor : {"srcc", "loss"}, default="srcc"
        Early stopping on validation SRCC (mean over outputs, ties broken by the loss) or loss.
    lr_schedule : {"constant", "cosine"}, default="constant"
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
        The network learns ``(y - target_mean_) / target_scale_``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = X @ [1.0, 2.0, 0.0, 0.0, -1.0]
    >>> model = TorchMLPRegressor(hidden_sizes=(16,), lr=1e-2, random_state=0).fit(X, y)
    >>> model.predict(X[:3]).shape, model.score(X, y) > 0.9
    ((3,), True)
    """

    # Settings of the training loop that subclasses without them in ``__init__`` (and models
    # saved before they existed) use.
    optimizer = "adamw"
    momentum = 0.9
    drop_last = False
    keep_initial = True
    monitor = "srcc"
    lr_schedule = "constant"

    def __init__(
        self,
        hidden_sizes=(256, 64),
        activation: str = "relu",
        dropout=0.1,
        loss: str = "mse",
        tau: float = 0.25,
        pairwise_weight: float = 0.0,
        margin: float = 0.1,
        class_balance: str | None = None,
        beta: float = 0.99,
        class_edges=None,
        target_scaling="standardize",
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
        keep_initial: bool = True,
    ):
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.dropout = dropout
        self.loss = loss
        self.tau = tau
        self.pairwise_weight = pairwise_weight
        self.margin = margin
        self.class_balance = class_balance
        self.beta = beta
        self.class_edges = class_edges
        self.target_scaling = target_scaling
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
        self.keep_initial = keep_initial

    _parameter_constraints: dict = {
        **TRAINING_CONSTRAINTS,
        "hidden_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "loss": [StrOptions(set(POINTWISE))],
        "tau": [Interval(Real, 0, None, closed="left")],
        "pairwise_weight": [Interval(Real, 0, None, closed="left")],
        "margin": [Interval(Real, 0, None, closed="left")],
        "class_balance": [StrOptions(set(CLASS_WEIGHTINGS)), None],
        "beta": [Interval(Real, 0, 1, closed="left")],
        "class_edges": ["array-like", None],
        "target_scaling": [StrOptions(set(SCALINGS)), tuple, list],
    }

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and ``y`` (n_samples,) or (n_samples, n_outputs)."""
        self._check_parameters()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        Y = y.reshape(len(y), -1).astype(np.float64)
        self.target_mean_, self.target_scale_ = target_affine(self.target_scaling, Y)
        self._y_ndim = y.ndim
        loss, extras = self._regression_loss(Y)
        return self._fit_network(X, (Y - self.target_mean_) / self.target_scale_, loss, extras=extras)

    def predict(self, X) -> np.ndarray:
        """Predictions on the scale of ``y``."""
        return self._shape_output(self._predict_network(X) * self.target_scale_ + self.target_mean_)

    # -- shared with the other torch heads ---------------------------------------------
    def _check_parameters(self) -> None:
        """Raise ``ValueError``/``TypeError`` for a bad parameter (called by ``fit``, and up front by ``clapmos.heads.runs.validation``).

        scikit-learn's ``_validate_params`` checks the constraints; then what they cannot say.
        """
        self._validate_params()
        owner = type(self).__name__
        layer_dropouts(check_hidden_sizes(self.hidden_sizes, owner), self.dropout)
        if getattr(self, "class_edges", None) is not None:
            check_class_edges(self.class_edges)
        if hasattr(self, "target_scaling"):  # SPO heads have z targets instead
            check_target_scaling(self.target_scaling)
        check_device_name(self.device, owner)

    def _regression_loss(self, scores: np.ndarray) -> tuple[RegressionLoss, dict[str, np.ndarray]]:
        """The loss these settings name, and its per-sample class weights (from the raw ``scores``) when balanced."""
        loss = RegressionLoss(self.loss, self.tau, self.pairwise_weight, self.margin, self.class_balance)
        if self.class_balance is None:
            return loss, {}
        edges = XACLE_CLASS_EDGES if self.class_edges is None else tuple(self.class_edges)
        return loss, {"weight": class_balanced_weights(class_counts(scores, edges), self.beta)}

    def _fit_network(self, X: np.ndarray, Y: np.ndarray, loss_fn: Loss, n_outputs: int | None = None, seed: int | None = None, **training):
        """Train the network on targets ``Y``; sets the learned attributes.

        ``n_outputs`` is the number of scores predicted (default: the columns of ``Y``);
        ``seed`` defaults to ``random_state``'s; ``training`` goes to :func:`~clapmos.heads.nn.training.train_module`
        (``extras``, ``decode``, ``truth``, ``split``).
        """
        self.n_outputs_ = Y.shape[1] if n_outputs is None else n_outputs
        seed = seed_from(self.random_state) if seed is None else seed
        result = train_module(self._starting_network, X, Y, loss_fn, self._training_options(), seed, **training)
        self.module_ = result.module.double()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        vars(self).pop("_initial_state", None)  # used once: the fitted model does not carry the pretrained weights
        return self

    def __sklearn_clone__(self):
        """A clone that keeps pretrained starting weights (``_initial_state``), so that fold models start from them too."""
        clone = super().__sklearn_clone__()
        if getattr(self, "_initial_state", None) is not None:
            clone._initial_state = self._initial_state
        return clone

    def _build_network(self) -> nn.Module:
        return build_mlp(self.n_features_in_, self.hidden_sizes, self.n_outputs_, self.activation, self.dropout)

    def _starting_network(self) -> nn.Module:
        """A fresh network, or one starting from pretrained weights (``clapmos.heads.runs.pretraining`` sets ``_initial_state``)."""
        network = self._build_network()
        initial = getattr(self, "_initial_state", None)
        if initial is not None:
            own = network.state_dict()
            usable = {name: value.to(torch.float32) for name, value in initial.items() if name in own and own[name].shape == value.shape}
            if not usable:
                raise ValueError(f"none of the pretrained weights fit {type(self).__name__}'s network")
            network.load_state_dict(usable, strict=False)  # weights shaped by the data (ldnet's listeners) start fresh
        return network

    def _new_module(self) -> nn.Module:
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
        summary="torch MLP (hidden sizes, activation, dropout; mse/l1/clipped_mse, class-balanced, pairwise), early stopping on validation SRCC",
        build=lambda random_state=None, **_: TorchMLPRegressor(random_state=random_state),
        types=(TorchMLPRegressor,),
        quick={"hidden_sizes": (16,), "max_epochs": 20, "patience": 5, "lr": 1e-2},
    )
)
