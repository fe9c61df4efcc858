"""SPO: heads trained on per-listener standardised targets, predicting on the score scale.

SPO (METHODS.md §3) screens the ratings, standardises every rating with its
listener's mean and standard deviation, averages the z of each clip and trains with
``MSE + pairwise_weight * pairwise_hinge``. :class:`SpoMLPRegressor` (``spo_mlp``) and the
heads built on :class:`_ScoreScaleMixin` (``cosine``, :mod:`clapmos.heads.cosine`; the frame
heads) do that inside ``fit``, on the training rows they are given (so cross-validation never
leaks listener statistics), and map their z predictions back with ``mu_g + sigma_g * z``.

Per-listener ratings reach ``fit`` as sample-aligned arrays (see
:func:`clapmos.heads.inputs.ratings.listener_matrices`), so pipelines, cross-validation and metadata
routing slice them with the rows. The estimators request them by default when
metadata routing is enabled.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from clapmos.heads.nn.training import seed_from, validation_split
from clapmos.heads.mlp import TorchMLPRegressor
from clapmos.heads.inputs.ratings import ListenerStatistics, item_targets, ratings_from_matrices
from clapmos.heads.registry import HeadSpec, register_head


SPO_CONSTRAINTS: dict[str, list] = {
    "pairwise_weight": [Interval(Real, 0, None, closed="left")],
    "margin": [Interval(Real, 0, None, closed="left")],
    "screening_tau": [Interval(Real, 0, None, closed="left"), None],
    "drop_unscreened": ["boolean"],
}


class _ScoreScaleMixin:
    """z targets from listener ratings in ``fit``; z predictions back to the score scale."""

    __metadata_request__fit = {"listener_scores": True, "listener_ids": True}

    def _spo_targets(self, Y: np.ndarray, listener_scores, listener_ids):
        """The z targets of the rows trained on, as published; sets ``mu_g_``, ``sigma_g_``, ``listener_stats_``, ``screening_counts_``.

        Returns ``(Z, keep, split, seed)``: targets of the rows ``keep`` (a boolean mask),
        the (training, validation) rows among them for :func:`~clapmos.heads.nn.training.train_module`,
        and the torch seed. The validation rows are the seed's ``validation_fraction``; the
        listener statistics come from the training rows' screened ratings only, and the
        validation rows are screened and mapped with the training ``mu_g``, ``sigma_g``
        (never with statistics they helped compute). Items left without a rating (none
        given, or all screened out) and items with a single rating are dropped with
        ``drop_unscreened`` (as published); otherwise they get ``(y - mu_g) / sigma_g``
        from their per-item score ``y`` (counted under ``items_from_mean``).
        """
        n, n_outputs = Y.shape
        seed = seed_from(self.random_state)
        train, val = validation_split(n, self.validation_fraction, seed)
        in_val = np.zeros(n, dtype=bool)
        if val is not None:
            in_val[val] = True
        names = [f"output {j}" for j in range(n_outputs)]
        ratings = self._ratings_table(n, names, listener_scores, listener_ids)
        Z = np.empty_like(Y)
        keep = np.ones(n, dtype=bool)
        self.listener_stats_, self.screening_counts_ = [], []
        for j, name in enumerate(names):
            training_ratings = ratings[~in_val[ratings["item"].to_numpy(dtype=int)]] if len(ratings) else ratings
            result = item_targets(training_ratings, name, n, tau=self.screening_tau, item_means=Y[:, j])
            z, stats = result.z.copy(), result.stats
            rated = ratings[ratings[name].notna()] if len(ratings) else ratings
            if len(rated) and val is not None:
                held = rated[in_val[rated["item"].to_numpy(dtype=int)]]
                if len(held):
                    global_only = ListenerStatistics(pd.DataFrame({"mu": [], "sigma": [], "n": []}), stats.mu_g, stats.sigma_g)
                    z[in_val] = item_targets(held, name, n, tau=self.screening_tau, stats=global_only).z[in_val]
            missing = np.isnan(z)
            single = np.zeros(n, dtype=bool)
            if len(rated):
                single[np.bincount(rated["item"].to_numpy(dtype=int), minlength=n) == 1] = True
            dropped = (missing | single) if getattr(self, "drop_unscreened", False) and len(rated) else np.zeros(n, dtype=bool)
            fill = missing & ~dropped
            z[fill] = (Y[fill, j] - stats.mu_g) / stats.sigma_g
            Z[:, j] = z
            keep &= ~dropped
            self.listener_stats_.append(_plain_statistics(stats))
            self.screening_counts_.append({**result.counts, "items_from_mean": int(fill.sum()), "items_dropped": int(dropped.sum())})
        self.mu_g_ = np.array([s["mu_g"] for s in self.listener_stats_])
        self.sigma_g_ = np.array([s["sigma_g"] for s in self.listener_stats_])
        if not keep.all() and keep.sum() < 2:
            raise ValueError(f"drop_unscreened left {int(keep.sum())} of {n} items (single ratings, or every rating screened out); need at least 2")
        new_index = np.cumsum(keep) - 1
        split = (new_index[train[keep[train]]], None if val is None else new_index[val[keep[val]]])
        return Z[keep], keep, split, seed

    @staticmethod
    def _ratings_table(n: int, names: list[str], listener_scores, listener_ids) -> pd.DataFrame:
        n_outputs = len(names)
        if listener_scores is None and listener_ids is None:
            return pd.DataFrame({"item": [], "listener": [], **{name: [] for name in names}})
        if listener_scores is None or listener_ids is None:
            raise ValueError("listener_scores and listener_ids must be given together")
        scores = np.asarray(listener_scores, dtype=float)
        if scores.ndim == 3 and scores.shape[2] != n_outputs:
            raise ValueError(f"listener_scores has {scores.shape[2]} target(s) on its last axis, y has {n_outputs}")
        if scores.ndim == 2 and n_outputs != 1:
            raise ValueError(f"y has {n_outputs} targets: listener_scores must be (n_samples, k, {n_outputs})")
        if len(scores) != n:
            raise ValueError(f"listener_scores has {len(scores)} rows, X has {n}: they must be aligned")
        return ratings_from_matrices(scores, listener_ids, names)

    def _to_scores(self, Z: np.ndarray) -> np.ndarray:
        """``mu_g + sigma_g * z``, shaped like the ``y`` seen in ``fit``."""
        scores = self.mu_g_ + self.sigma_g_ * Z
        return scores.ravel() if self._y_ndim == 1 else scores


def _plain_statistics(stats: ListenerStatistics) -> dict:
    """The statistics as plain arrays, so fitted estimators save with skops (no DataFrames)."""
    table = stats.table
    return {
        "listener": table.index.to_numpy(dtype=str),
        "mu": table["mu"].to_numpy(dtype=float),
        "sigma": table["sigma"].to_numpy(dtype=float),
        "n": table["n"].to_numpy(dtype=int),
        "mu_g": stats.mu_g,
        "sigma_g": stats.sigma_g,
    }


class SpoMLPRegressor(_ScoreScaleMixin, TorchMLPRegressor):
    """The SPO recipe on an MLP: standardised listener targets, MSE + pairwise loss, calibrated output.

    Same network and training loop as :class:`~clapmos.heads.mlp.TorchMLPRegressor`; the
    loss is :class:`~clapmos.heads.nn.losses.RegressionLoss` ``("mse", pairwise_weight=λ)`` (MSE + λ · pairwise hinge) by default, on z
    targets; the MLP's loss options (``clipped_mse``, class-balanced weights from the
    raw clip scores) apply too. Without listener ratings it trains on ``y``
    standardised with its own mean and standard deviation (with a
    :class:`~clapmos.heads.inputs.ratings.NoListenerRatingsWarning`).

    Parameters
    ----------
    pairwise_weight : float, default=0.5
        Weight λ of the pairwise hinge term.
    margin : float, default=0.1
        Margin m of the pairwise hinge, in z units.
    screening_tau : float or None, default=None
        Rating screening threshold on the raw scale (the published run used 5 on
        XACLE's 0-10 scale); ``None`` keeps every rating.
    drop_unscreened : bool, default=False
        Drop the items with a single rating and those screening empties (as published);
        by default they are kept, on their per-item score.
    loss, tau, class_balance, beta, class_edges
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor` (``tau`` in z units; classes from
        the raw per-clip scores ``y``).
    hidden_sizes, activation, dropout, optimizer, lr, weight_decay, momentum, batch_size, drop_last, max_epochs, validation_fraction, patience, monitor, lr_schedule, device, random_state
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor` (``batch_size`` defaults to 32,
        the batch the pairwise term was designed for).

    Attributes
    ----------
    mu_g_, sigma_g_ : ndarray of shape (n_outputs,)
        Global listener statistics; predictions are ``mu_g_ + sigma_g_ * z``.
    listener_stats_ : list of dict
        Per output: arrays ``listener``, ``mu``, ``sigma``, ``n`` (one entry per
        training listener; ``pd.DataFrame(d)`` shows them) and floats ``mu_g``, ``sigma_g``.
    screening_counts_ : list of dict
        Per output: what screening removed, and ``items_from_mean``.
    module_, history_, best_epoch_, n_features_in_, n_outputs_
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor`; the network predicts z.

    Examples
    --------
    >>> from clapmos.heads.inputs.ratings import listener_matrices
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 4)); quality = X[:, 0]
    >>> ratings = pd.DataFrame({"item": np.repeat(np.arange(120), 3),
    ...                         "listener": rng.choice(list("abcdef"), 360)})
    >>> ratings["score"] = np.clip(np.round(5 + 2 * quality[ratings["item"]]), 0, 10)
    >>> scores, ids = listener_matrices(ratings, 120, "score")
    >>> y = np.nanmean(scores, axis=1)
    >>> model = SpoMLPRegressor(hidden_sizes=(8,), max_epochs=20, random_state=0)
    >>> model = model.fit(X, y, listener_scores=scores, listener_ids=ids)
    >>> model.predict(X[:2]).shape, bool(model.sigma_g_[0] > 0)
    ((2,), True)
    """

    _parameter_constraints: dict = {
        **TorchMLPRegressor._parameter_constraints,
        **SPO_CONSTRAINTS,
    }

    def __init__(
        self,
        hidden_sizes=(256, 64),
        activation: str = "relu",
        dropout=0.1,
        pairwise_weight: float = 0.5,
        margin: float = 0.1,
        screening_tau: float | None = None,
        drop_unscreened: bool = False,
        loss: str = "mse",
        tau: float = 0.25,
        class_balance: str | None = None,
        beta: float = 0.99,
        class_edges=None,
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        momentum: float = 0.9,
        batch_size: int = 32,
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
        self.pairwise_weight = pairwise_weight
        self.margin = margin
        self.screening_tau = screening_tau
        self.drop_unscreened = drop_unscreened
        self.loss = loss
        self.tau = tau
        self.class_balance = class_balance
        self.beta = beta
        self.class_edges = class_edges
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

    def fit(self, X, y, listener_scores=None, listener_ids=None):
        """Train on z targets made from the listener ratings of these rows.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : array of shape (n_samples,) or (n_samples, n_outputs)
            Per-item scores on the raw scale (used for items without ratings).
        listener_scores : array of shape (n_samples, k) or (n_samples, k, n_outputs), optional
            NaN-padded ratings of every item.
        listener_ids : array of shape (n_samples, k), optional
            Who gave each rating, ``None``-padded.
        """
        self._check_parameters()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        self._y_ndim = y.ndim
        Y = y.reshape(len(y), -1).astype(np.float64)
        Z, keep, split, seed = self._spo_targets(Y, listener_scores, listener_ids)
        loss, extras = self._regression_loss(Y[keep])
        return self._fit_network(X[keep], Z, loss, extras=extras, split=split, seed=seed)

    def predict(self, X) -> np.ndarray:
        """Scores on the raw scale: ``mu_g_ + sigma_g_ * z``."""
        return self._to_scores(self._predict_network(X))


QUICK_TRAINING = {"max_epochs": 20, "patience": 5, "lr": 1e-2}
register_head(
    HeadSpec(
        name="spo_mlp",
        summary="SPO: screening, per-listener z targets, MSE + pairwise hinge, output mapped back to the score scale",
        build=lambda random_state=None, **_: SpoMLPRegressor(random_state=random_state),
        listener_ratings=True,
        types=(SpoMLPRegressor,),
        quick={"hidden_sizes": (16,), **QUICK_TRAINING},
    )
)
