"""``ldnet``: a listener-conditioned MLP (LDNet, METHODS.md §8), trained on every (clip, listener, rating).

The network encodes a clip's features, looks up the listener's learned embedding and
decodes both into *that listener's* rating. Training rows are every single rating of
the training clips (``listener_scores`` / ``listener_ids``, as the SPO heads receive
them) plus one row per clip for a virtual **mean listener** whose target is the clip's
mean score ``y``. A listener's harshness or leniency is learned by the embedding, so
it no longer shows up as noise in the clip targets: this is what helps when each clip
has only a few ratings.

Prediction (``inference``):

``"mean_listener"`` (default)  the virtual mean listener's prediction: one pass, and the
                               quantity the corpus's MOS estimates (LDNet's cheaper mode)
``"all_listeners"``            the mean of the predictions for every training listener
                               (one decoder pass per listener)

:meth:`ListenerConditionedRegressor.predict_listener` predicts for named listeners
(unknown names get the mean listener); ``listener_bias_`` is each training listener's
mean offset from the mean listener on the training clips (on the score scale).
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from clapmos.heads.inputs.ratings import NoListenerRatingsWarning, ratings_from_matrices
from clapmos.heads.inputs.targets import target_affine
from clapmos.heads.mlp import TorchMLPRegressor, build_body, build_mlp, check_hidden_sizes
from clapmos.heads.nn.training import BatchedInputs
from clapmos.heads.registry import HeadSpec, register_head

INFERENCE_MODES = ("mean_listener", "all_listeners")
BIAS_CLIPS = 512  # training clips (evenly spaced) that listener_bias_ averages over


class ListenerConditionedNet(nn.Module):
    """``decoder([encoder(x); embedding[listener]])``; listener 0 is the virtual mean listener."""

    def __init__(self, n_in: int, hidden_sizes, n_listeners: int, embedding_dim: int, decoder_sizes, n_out: int,
                 activation: str = "relu", dropout=0.0):
        super().__init__()
        layers, width = build_body(n_in, hidden_sizes, activation, dropout)
        self.encoder = nn.Sequential(*layers)
        self.embedding = nn.Embedding(n_listeners, embedding_dim)
        self.decoder = build_mlp(width + embedding_dim, decoder_sizes, n_out, activation)

    def decode(self, encoded: torch.Tensor, listener: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([encoded, self.embedding(listener)], dim=1))

    def forward(self, x: torch.Tensor, listener: torch.Tensor, clip: torch.Tensor | None = None) -> torch.Tensor:
        """Row ``i`` is listener ``listener[i]`` on clip ``x[clip[i]]`` (``clip=None``: on ``x[i]``); each clip is encoded once."""
        encoded = self.encoder(x)
        return self.decode(encoded if clip is None else encoded[clip], listener)


class ListenerRows(BatchedInputs):
    """One training row per rating: the clip's features (``X[clip]``) and the listener index.

    A mini-batch is ``batch_size`` *clips* with all their rows (every rating and the mean listener's),
    so a step encodes as many clips as a plain MLP's step and decodes every listener of each
    (LDNet's per-clip batching): an epoch takes as many steps as the MLP's on the same clips.
    """

    def __init__(self, X: np.ndarray, clip: np.ndarray, listener: np.ndarray) -> None:
        self.X, self.clip, self.listener = X, clip, listener

    def __len__(self) -> int:
        return len(self.clip)

    def to(self, device: torch.device) -> "ListenerRows":
        self.X_t = torch.tensor(self.X, dtype=torch.float32, device=device)
        self.clip_t = torch.tensor(self.clip, dtype=torch.long, device=device)
        self.listener_t = torch.tensor(self.listener, dtype=torch.long, device=device)
        return super().to(device)

    def batches(self, items: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
        """Shuffled batches of ``batch_size`` clips, each with all its rows among ``items`` (each clip encoded once).

        >>> rows = ListenerRows(np.zeros((3, 1)), np.array([0, 0, 1, 1, 1, 2]), np.zeros(6, dtype=int))
        >>> [b.tolist() for b in rows.batches(torch.arange(6), 2, torch.Generator().manual_seed(0))]  # clips 1 and 2, then clip 0
        [[2, 3, 4, 5], [0, 1]]
        """
        rank = torch.randperm(int(self.clip.max()) + 1, generator=generator)[torch.as_tensor(self.clip)[items]]
        order = torch.argsort(rank, stable=True)
        ranks = rank[order]
        position = torch.cumsum(torch.cat([torch.ones(1, dtype=torch.long), (ranks[1:] != ranks[:-1]).long()]), 0) - 1  # the clip's place in the epoch
        return list(torch.split(items[order], torch.bincount(position // batch_size).tolist()))

    def is_full(self, batch: torch.Tensor, batch_size: int) -> bool:
        return len(torch.unique(torch.as_tensor(self.clip)[batch])) == batch_size

    def take(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        batch = batch.to(self.device)
        clips, inverse = torch.unique(self.clip_t[batch], return_inverse=True)
        return self.X_t[clips], self.listener_t[batch], inverse


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the entries of ``target`` that are not NaN (a rating of one target only).

    >>> round(masked_mse(torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0, float("nan")]])).item(), 3)
    1.0
    """
    known = ~torch.isnan(target)
    errors = (pred - torch.nan_to_num(target)) ** 2 * known
    return errors.sum() / known.sum().clamp(min=1)


class ListenerConditionedRegressor(TorchMLPRegressor):
    """LDNet-style regressor: clip encoder + listener embedding -> that listener's rating.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(256, 64)
        The clip encoder's hidden layers.
    embedding_dim : int, default=8
        Width of the listener embedding.
    decoder_sizes : tuple of int, default=(32,)
        Hidden layers of the decoder on ``[encoded clip; listener embedding]``; ``()`` makes
        a listener's effect an additive offset.
    inference : {"mean_listener", "all_listeners"}, default="mean_listener"
        What ``predict`` returns (module docstring).
    mean_listener_weight : int, default=1
        How many times each clip's mean-listener row (its mean score) enters an epoch beside
        its single ratings; 0 drops them (``inference`` must then be ``"all_listeners"``).
    batch_size : int, default=64
        Clips per mini-batch, each with all its rows (its single ratings and its mean-listener
        row; each clip is encoded once per batch): an epoch takes as many steps as the MLP's.
    activation, dropout, target_scaling, optimizer, lr, weight_decay, momentum, drop_last, max_epochs, validation_fraction, patience, monitor, lr_schedule, device, random_state
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor` (the loss is MSE over the known
        ratings; early stopping monitors held-out rating rows).

    Attributes
    ----------
    listeners_ : ndarray of str
        Training listeners; embedding row ``i + 1`` belongs to ``listeners_[i]`` (row 0: the mean listener).
    listener_bias_ : ndarray of shape (n_listeners, n_outputs)
        Mean over the training clips (at most 512, evenly spaced) of (listener's prediction - mean
        listener's prediction), score scale.
    module_, history_, best_epoch_, n_features_in_, n_outputs_, target_mean_, target_scale_
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor`.

    Examples
    --------
    >>> from clapmos.heads.inputs.ratings import listener_matrices
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(150, 4)); bias = {"a": -1.0, "b": 0.0, "c": 1.0}
    >>> ratings = pd.DataFrame({"item": np.repeat(np.arange(150), 2), "listener": rng.choice(list("abc"), 300)})
    >>> ratings["score"] = 3 + X[ratings["item"], 0] + ratings["listener"].map(bias)
    >>> scores, ids = listener_matrices(ratings, 150, "score")
    >>> model = ListenerConditionedRegressor(hidden_sizes=(16,), lr=1e-2, random_state=0)
    >>> model = model.fit(X, np.nanmean(scores, axis=1), listener_scores=scores, listener_ids=ids)
    >>> model.listeners_.tolist(), bool(np.diff(model.listener_bias_[:, 0]).min() > 0.5)
    (['a', 'b', 'c'], True)
    """

    __metadata_request__fit = {"listener_scores": True, "listener_ids": True}

    _parameter_constraints: dict = {
        **TorchMLPRegressor._parameter_constraints,
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "decoder_sizes": ["array-like"],
        "inference": [StrOptions(set(INFERENCE_MODES))],
        "mean_listener_weight": [Interval(Integral, 0, None, closed="left")],
    }
    for _name in ("loss", "tau", "pairwise_weight", "margin", "class_balance", "beta", "class_edges"):
        _parameter_constraints.pop(_name)
    del _name

    def __init__(
        self,
        hidden_sizes=(256, 64),
        embedding_dim: int = 8,
        decoder_sizes=(32,),
        inference: str = "mean_listener",
        mean_listener_weight: int = 1,
        activation: str = "relu",
        dropout=0.1,
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
    ):
        self.hidden_sizes = hidden_sizes
        self.embedding_dim = embedding_dim
        self.decoder_sizes = decoder_sizes
        self.inference = inference
        self.mean_listener_weight = mean_listener_weight
        self.activation = activation
        self.dropout = dropout
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

    def _check_parameters(self) -> None:
        super()._check_parameters()
        check_hidden_sizes(self.decoder_sizes, type(self).__name__)
        if self.mean_listener_weight == 0 and self.inference == "mean_listener":
            raise ValueError("mean_listener_weight=0 trains no mean listener: use inference='all_listeners'")

    def fit(self, X, y, listener_scores=None, listener_ids=None):
        """Train on every rating of these rows and on their clip means.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : array of shape (n_samples,) or (n_samples, n_outputs)
            Per-clip mean scores (the mean listener's targets).
        listener_scores : array of shape (n_samples, k) or (n_samples, k, n_outputs), optional
            NaN-padded ratings of every clip (:func:`~clapmos.heads.inputs.ratings.listener_matrices`).
        listener_ids : array of shape (n_samples, k), optional
            Who gave each rating, ``None``-padded. Without ratings the head trains on the
            clip means only (a plain MLP), with a :class:`~clapmos.heads.inputs.ratings.NoListenerRatingsWarning`.
        """
        self._check_parameters()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        self._y_ndim = y.ndim
        Y = y.reshape(len(y), -1).astype(np.float64)
        self.target_mean_, self.target_scale_ = target_affine(self.target_scaling, Y)
        clip, listener, targets = self._rows(Y, listener_scores, listener_ids)
        self.n_outputs_ = Y.shape[1]
        Z = (targets - self.target_mean_) / self.target_scale_
        truth = np.where(np.isnan(Z), ((Y - self.target_mean_) / self.target_scale_)[clip], Z)
        self._fit_network(ListenerRows(X, clip, listener), Z, masked_mse, n_outputs=Y.shape[1], truth=truth)
        self.listener_bias_ = self._listener_bias(X)
        return self

    def _rows(self, Y: np.ndarray, listener_scores, listener_ids):
        """Training rows (clip, listener index, targets): every rating, then the mean-listener rows."""
        n, n_outputs = Y.shape
        names = list(range(n_outputs))
        if listener_scores is None and listener_ids is None:
            warnings.warn("no per-listener ratings: ldnet trains on the clip means only (a plain MLP)", NoListenerRatingsWarning, stacklevel=3)
            table = None
        elif listener_scores is None or listener_ids is None:
            raise ValueError("listener_scores and listener_ids must be given together")
        else:
            scores = np.asarray(listener_scores, dtype=float)
            if len(scores) != n:
                raise ValueError(f"listener_scores has {len(scores)} rows, X has {n}: they must be aligned")
            if (scores.ndim == 2 and n_outputs != 1) or (scores.ndim == 3 and scores.shape[2] != n_outputs):
                raise ValueError(f"listener_scores of shape {scores.shape} does not match y's {n_outputs} target(s)")
            table = ratings_from_matrices(scores, listener_ids, names)
        self.listeners_ = np.array([], dtype=str) if table is None else np.unique(table["listener"].to_numpy(dtype=str))
        pieces_clip, pieces_listener, pieces_target = [], [], []
        if table is not None and len(table):
            pieces_clip.append(table["item"].to_numpy(dtype=int))
            pieces_listener.append(np.searchsorted(self.listeners_, table["listener"].to_numpy(dtype=str)) + 1)
            pieces_target.append(table[names].to_numpy(dtype=float))
        for _ in range(self.mean_listener_weight if table is not None else max(self.mean_listener_weight, 1)):
            pieces_clip.append(np.arange(n))
            pieces_listener.append(np.zeros(n, dtype=int))
            pieces_target.append(Y)
        return np.concatenate(pieces_clip), np.concatenate(pieces_listener), np.vstack(pieces_target)

    def _build_network(self) -> nn.Module:
        return ListenerConditionedNet(
            self.n_features_in_, self.hidden_sizes, len(self.listeners_) + 1, self.embedding_dim,
            self.decoder_sizes, self.n_outputs_, self.activation, self.dropout,
        )

    def _listener_outputs(self, X: np.ndarray, listeners: np.ndarray) -> np.ndarray:
        """Scaled outputs (n, n_outputs) for one listener index per row."""
        with torch.no_grad():
            x = torch.tensor(X, dtype=torch.float64)
            return self.module_(x, torch.as_tensor(listeners, dtype=torch.long)).numpy()

    def _all_listener_outputs(self, X: np.ndarray) -> np.ndarray:
        """Scaled outputs (n_listeners, n, n_outputs) of every training listener."""
        with torch.no_grad():
            encoded = self.module_.encoder(torch.tensor(X, dtype=torch.float64))
            return np.stack([
                self.module_.decode(encoded, torch.full((len(X),), i + 1, dtype=torch.long)).numpy()
                for i in range(len(self.listeners_))
            ])

    def _listener_bias(self, X: np.ndarray) -> np.ndarray:
        if not len(self.listeners_):
            return np.zeros((0, self.n_outputs_))
        X = X[np.linspace(0, len(X) - 1, min(len(X), BIAS_CLIPS)).astype(int)]  # thousands of listeners: a sample of clips
        offsets = self._all_listener_outputs(X) - self._listener_outputs(X, np.zeros(len(X), dtype=int))[None]
        return offsets.mean(axis=1) * self.target_scale_

    def predict(self, X) -> np.ndarray:
        """Scores of the mean listener, or the mean over every training listener (``inference``)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        if self.inference == "all_listeners" and len(self.listeners_):
            Z = self._all_listener_outputs(X).mean(axis=0)
        else:
            Z = self._listener_outputs(X, np.zeros(len(X), dtype=int))
        return self._shape_output(Z * self.target_scale_ + self.target_mean_)

    def predict_listener(self, X, listener_ids) -> np.ndarray:
        """The scores ``listener_ids[i]`` would give clip ``i`` (an unknown listener: the mean listener).

        >>> model = ListenerConditionedRegressor(hidden_sizes=(4,), max_epochs=2, random_state=0)
        >>> import warnings
        >>> with warnings.catch_warnings(action="ignore"):
        ...     model = model.fit(np.eye(4), np.arange(4.0))
        >>> model.predict_listener(np.eye(4), ["x"] * 4).shape
        (4,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        names = np.asarray(listener_ids, dtype=str)
        if names.shape != (len(X),):
            raise ValueError(f"listener_ids must name one listener per row of X ({len(X)}), got shape {names.shape}")
        position = np.searchsorted(self.listeners_, names)
        known = (position < len(self.listeners_)) & (self.listeners_[np.minimum(position, max(len(self.listeners_) - 1, 0))] == names) if len(self.listeners_) else np.zeros(len(names), bool)
        Z = self._listener_outputs(X, np.where(known, position + 1, 0))
        return self._shape_output(Z * self.target_scale_ + self.target_mean_)


register_head(
    HeadSpec(
        name="ldnet",
        summary="LDNet: clip encoder + learned listener embedding, trained on every (clip, listener, rating); predicts the mean listener",
        build=lambda random_state=None, **_: ListenerConditionedRegressor(random_state=random_state),
        listener_ratings=True,
        types=(ListenerConditionedRegressor,),
        quick={"hidden_sizes": (16,), "max_epochs": 20, "patience": 5, "lr": 1e-2},
    )
)
