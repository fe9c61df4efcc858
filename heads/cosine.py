"""``cosine``: the seed's SPO-CLAPScore on frozen embeddings, an affine map of the audio–text cosine
trained with SPO's targets and loss (:mod:`clapmos.heads.spo`).

>>> from clapmos.heads.registry import make_head
>>> make_head("cosine").named_steps["model"].max_epochs > 0
True
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from clapmos.embed.errors import ClapmosError
from clapmos.heads.inputs.features import paired_cosine
from clapmos.heads.nn.losses import RegressionLoss
from clapmos.heads.nn.training import TRAINING_CONSTRAINTS, TrainingOptions, check_device_name, train_module
from clapmos.heads.registry import HeadSpec, register_head
from clapmos.heads.spo import QUICK_TRAINING, SPO_CONSTRAINTS, _ScoreScaleMixin


class AffineCosine(nn.Module):
    """``z = slope * cosine + intercept``, one slope and intercept per output."""

    def __init__(self, slope: np.ndarray, intercept: np.ndarray):
        super().__init__()
        self.slope = nn.Parameter(torch.as_tensor(slope, dtype=torch.float32))
        self.intercept = nn.Parameter(torch.as_tensor(intercept, dtype=torch.float32))

    def forward(self, cosine: torch.Tensor) -> torch.Tensor:
        return cosine * self.slope + self.intercept


class SpoCosineRegressor(_ScoreScaleMixin, RegressorMixin, BaseEstimator):
    """The seed's SPO-CLAPScore on frozen embeddings: an affine map of the audio-text cosine.

    Reads the paired (audio | text) matrix, computes the cosine of its halves and
    learns ``z = slope * cos + intercept`` with the SPO targets and loss, starting
    from the CLAPScore map ``slope = top / sigma_g``, ``intercept = -mu_g / sigma_g``
    where ``top`` is the top of the score scale (10 on XACLE). Ranking is fixed by the
    cosine, so training only calibrates the scale and early stopping monitors the
    validation loss by default. ``max_epochs=0`` keeps the zero-shot map.

    Parameters
    ----------
    audio_dim : int or None, default=None
        Split point of X (``None``: the middle).
    score_top : float or None, default=None
        Top of the score scale; ``None`` takes the largest score seen in ``fit``
        (listener ratings when given, else ``y``), per output.
    pairwise_weight, margin, screening_tau, drop_unscreened
        As in :class:`SpoMLPRegressor`.
    optimizer : {"adamw", "adam", "sgd"}, default="adamw"
    lr : float, default=1e-2
        Learning rate (no weight decay: it would pull the slope to 0).
    lr_schedule : {"constant", "cosine"}, default="constant"
    monitor : {"loss", "srcc"}, default="loss"
        What early stopping reads. The cosine fixes the ranking, so validation SRCC
        only changes if the slope changes sign; ``"srcc"`` (published) breaks its ties by
        the validation loss.
    batch_size, drop_last, max_epochs, validation_fraction, patience, device, random_state
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor`.

    Attributes
    ----------
    slope_, intercept_ : ndarray of shape (n_outputs,)
        The learned map into z-space.
    score_top_ : ndarray of shape (n_outputs,)
    mu_g_, sigma_g_, listener_stats_, screening_counts_
        As in :class:`SpoMLPRegressor`.
    module_, history_, best_epoch_, n_features_in_, n_outputs_

    Examples
    --------
    With ``max_epochs=0`` and no listener ratings the map is the zero-shot
    CLAPScore ``top * cos``:

    >>> rng = np.random.default_rng(0)
    >>> audio = rng.normal(size=(50, 8)); X = np.hstack([audio, audio + rng.normal(size=(50, 8))])
    >>> y = 10 * paired_cosine(X)
    >>> import warnings
    >>> from clapmos.heads.inputs.ratings import NoListenerRatingsWarning
    >>> with warnings.catch_warnings(action="ignore", category=NoListenerRatingsWarning):
    ...     model = SpoCosineRegressor(score_top=10, max_epochs=0).fit(X, y)
    >>> bool(np.allclose(model.predict(X), y))
    True
    """

    _parameter_constraints: dict = {
        **TRAINING_CONSTRAINTS,
        **SPO_CONSTRAINTS,
        "audio_dim": [Interval(Integral, 1, None, closed="left"), None],
        "score_top": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        audio_dim: int | None = None,
        score_top: float | None = None,
        pairwise_weight: float = 0.5,
        margin: float = 0.1,
        screening_tau: float | None = None,
        drop_unscreened: bool = False,
        optimizer: str = "adamw",
        lr: float = 1e-2,
        lr_schedule: str = "constant",
        monitor: str = "loss",
        batch_size: int = 32,
        drop_last: bool = False,
        max_epochs: int = 50,
        validation_fraction: float | None = 0.1,
        patience: int = 10,
        device: str = "auto",
        random_state=None,
    ):
        self.audio_dim = audio_dim
        self.score_top = score_top
        self.pairwise_weight = pairwise_weight
        self.margin = margin
        self.screening_tau = screening_tau
        self.drop_unscreened = drop_unscreened
        self.optimizer = optimizer
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.monitor = monitor
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state

    def fit(self, X, y, listener_scores=None, listener_ids=None):
        """Calibrate the cosine map on z targets; arguments as in :meth:`SpoMLPRegressor.fit`."""
        self._check_parameters()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        cosine = paired_cosine(X, self.audio_dim)[:, None]
        self._y_ndim = y.ndim
        Y = y.reshape(len(y), -1).astype(np.float64)
        Z, keep, split, seed = self._spo_targets(Y, listener_scores, listener_ids)
        self.n_outputs_ = Y.shape[1]
        self.score_top_ = self._score_top(Y, listener_scores)
        slope, intercept = self.score_top_ / self.sigma_g_, -self.mu_g_ / self.sigma_g_
        options = TrainingOptions(
            lr=self.lr,
            weight_decay=0.0,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            validation_fraction=self.validation_fraction,
            patience=self.patience,
            device=self.device,
            monitor=self.monitor,
            optimizer=self.optimizer,
            lr_schedule=self.lr_schedule,
            drop_last=self.drop_last,
        )
        loss = RegressionLoss("mse", pairwise_weight=self.pairwise_weight, margin=self.margin)
        result = train_module(lambda: AffineCosine(slope, intercept), cosine[keep], Z, loss, options, seed, split=split)
        self.module_ = result.module.double()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.slope_ = self.module_.slope.detach().numpy().copy()
        self.intercept_ = self.module_.intercept.detach().numpy().copy()
        return self

    def _check_parameters(self) -> None:
        """Raise ``ValueError``/``TypeError`` for a bad parameter (called by ``fit``, and up front by ``clapmos.heads.runs.validation``)."""
        self._validate_params()
        check_device_name(self.device, type(self).__name__)

    def predict(self, X) -> np.ndarray:
        """Scores on the raw scale: ``mu_g_ + sigma_g_ * (slope_ * cos + intercept_)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        cosine = paired_cosine(X, self.audio_dim)[:, None]
        return self._to_scores(cosine * self.slope_ + self.intercept_)

    def _new_module(self) -> AffineCosine:
        """A fresh map shaped like ``module_`` (float64, eval mode), to load saved weights into."""
        zeros = np.zeros(self.n_outputs_)
        return AffineCosine(zeros, zeros).double().eval()

    def _score_top(self, Y: np.ndarray, listener_scores) -> np.ndarray:
        if self.score_top is not None:
            return np.full(Y.shape[1], float(self.score_top))
        top = Y.max(axis=0)
        if listener_scores is not None:
            scores = np.asarray(listener_scores, dtype=float).reshape(len(Y), -1, Y.shape[1])
            rated = ~np.isnan(scores).all(axis=(0, 1))
            top[rated] = np.nanmax(scores[:, :, rated], axis=(0, 1))
        return top

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # Two parameters on one fixed score: it cannot fit arbitrary data well, by design.
        tags.regressor_tags.poor_score = True
        return tags


def _cosine_split(audio_dim: int | None, layout) -> int | None:
    """Where the audio half ends: from the one embedder of ``layout``, else ``audio_dim``."""
    if layout is None:
        return audio_dim
    if len(layout) != 1 or not layout[0][2]:
        names = ", ".join(str(segment[0]) for segment in layout)
        raise ClapmosError(
            f"the cosine head compares one embedder's audio and text vectors; got embedder(s) {names}. "
            "Fit it with one --embedder that has text, or use another head for fused embeddings."
        )
    return int(layout[0][1])


register_head(
    HeadSpec(
        name="cosine",
        summary="SPO-CLAPScore: z = a*cos(audio, text) + b, trained with the SPO targets and loss",
        build=lambda random_state=None, audio_dim=None, layout=None, **_: SpoCosineRegressor(
            audio_dim=_cosine_split(audio_dim, layout), random_state=random_state
        ),
        scaled=False,
        reads_blocks=False,
        listener_ratings=True,
        types=(SpoCosineRegressor,),
        quick=QUICK_TRAINING,
    )
)
