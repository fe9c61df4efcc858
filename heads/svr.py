"""``svr``: scikit-learn's RBF ``SVR`` per target behind ``Normalizer`` and ``StandardScaler``.

The XACLE second place's preprocessing and model (METHODS.md §5, "EnsembleSVR"): the
feature blocks are scaled to unit rows, then standardised, then fed to an RBF SVR with
``C = 0.5``, ``gamma = "scale"`` and ``epsilon = 0.08`` (targets scaled first, see
:mod:`clapmos.heads.inputs.targets`). Kernel SVR costs about the square of the training rows: a fit
on more than ``max_rows`` rows is refused with the time it would take.

>>> from clapmos.heads.registry import make_head
>>> [step for step, _ in make_head("svr", target="alignment").steps]
['features', 'normalize', 'scale', 'model']
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.svm import SVR
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from clapmos.embed.errors import ClapmosError
from clapmos.heads.registry import HeadSpec, register_head
from clapmos.heads.inputs.targets import SCALINGS, check_target_scaling, target_affine

#: Seconds per (row² x feature) of one RBF SVR fit, measured on the project machine (one core).
SECONDS_PER_ROW2_FEATURE = 3e-10


def expected_fit_seconds(n_rows: int, n_features: int) -> float:
    """Rough time of one SVR fit: it grows with the square of the rows and linearly with the features.

    >>> round(expected_fit_seconds(10_000, 1_536))
    46
    """
    return SECONDS_PER_ROW2_FEATURE * float(n_rows) ** 2 * n_features


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def too_many_rows(n_rows: int, n_features: int, max_rows: int | None, n_fits: int = 1) -> str | None:
    """The refusal message for ``n_rows`` above ``max_rows`` (``None`` when within the limit)."""
    if max_rows is None or n_rows <= max_rows:
        return None
    seconds = expected_fit_seconds(n_rows, n_features) * n_fits
    return (
        f"svr on {n_rows:,} training rows (max_rows={max_rows:,}): kernel SVR time grows with the square of the rows; "
        f"expected about {_duration(seconds)} for {n_fits} fit(s) of {n_features:,} features on one core. "
        f"Train on fewer rows, use --head ridge or mlp, or raise the limit: --param svr.max_rows={n_rows}"
    )


class SvrRegressor(RegressorMixin, BaseEstimator):
    """One RBF :class:`~sklearn.svm.SVR` per target, on scaled targets.

    Put ``Normalizer`` and ``StandardScaler`` in front (the ``svr`` head does).

    Parameters
    ----------
    C : float, default=0.5
    epsilon : float, default=0.08
        Width of the insensitive tube, in scaled target units.
    gamma : "scale", "auto" or float, default="scale"
    target_scaling : "standardize", "none" or (center, scale), default="standardize"
        See :mod:`clapmos.heads.inputs.targets`; the published system used ``(5, 5)`` on XACLE.
    cache_size : float, default=500
        Kernel cache of libsvm, in MB.
    max_rows : int or None, default=50000
        Refuse to fit on more rows (the message gives the expected time); ``None``: no limit.

    Attributes
    ----------
    estimators_ : list of SVR, one per target
    target_mean_, target_scale_ : ndarray of shape (n_outputs,)
    n_features_in_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4)); y = np.sin(X[:, 0]) + X[:, 1]
    >>> SvrRegressor(C=10.0, epsilon=0.01).fit(X, y).score(X, y) > 0.9
    True
    """

    def __init__(self, C: float = 0.5, epsilon: float = 0.08, gamma="scale", target_scaling="standardize", cache_size: float = 500.0, max_rows: int | None = 50_000):
        self.C = C
        self.epsilon = epsilon
        self.gamma = gamma
        self.target_scaling = target_scaling
        self.cache_size = cache_size
        self.max_rows = max_rows

    _parameter_constraints: dict = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "gamma": [StrOptions({"scale", "auto"}), Interval(Real, 0, None, closed="neither")],
        "target_scaling": [StrOptions(set(SCALINGS)), tuple, list],
        "cache_size": [Interval(Real, 0, None, closed="neither")],
        "max_rows": [Interval(Integral, 1, None, closed="left"), None],
    }

    def _check_parameters(self) -> None:
        """Raise ``ValueError``/``TypeError`` for a bad parameter (called by ``fit``, and up front by ``clapmos.heads.runs.validation``)."""
        self._validate_params()
        check_target_scaling(self.target_scaling)

    def fit(self, X, y):
        """Fit one SVR per column of ``y`` (or one for a 1-D ``y``) on the scaled targets."""
        self._check_parameters()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        message = too_many_rows(len(X), X.shape[1], self.max_rows)
        if message:
            raise ValueError(message)
        Y = y.reshape(len(y), -1).astype(np.float64)
        self._y_ndim = y.ndim
        self.target_mean_, self.target_scale_ = target_affine(self.target_scaling, Y)
        Z = (Y - self.target_mean_) / self.target_scale_
        self.estimators_ = [
            SVR(kernel="rbf", C=self.C, epsilon=self.epsilon, gamma=self.gamma, cache_size=self.cache_size).fit(X, Z[:, j])
            for j in range(Z.shape[1])
        ]
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions on the scale of ``y``, shaped like it."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        Z = np.column_stack([estimator.predict(X) for estimator in self.estimators_])
        Y = Z * self.target_scale_ + self.target_mean_
        return Y.ravel() if self._y_ndim == 1 else Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def preflight(n_rows: int, n_features: int, n_fits: int, params: dict, **_) -> None:
    """Refuse, before anything is fitted, a run whose SVR fold models would train on more than ``max_rows`` rows."""
    message = too_many_rows(n_rows, n_features, params.get("max_rows", 50_000), n_fits)
    if message:
        raise ClapmosError(message)


register_head(
    HeadSpec(
        name="svr",
        summary="RBF SVR per target behind Normalizer + StandardScaler (XACLE 2nd place), C, epsilon, gamma settable",
        build=lambda **_: SvrRegressor(),
        preprocessing=lambda: [("normalize", Normalizer()), ("scale", StandardScaler())],
        preflight=preflight,
        types=(SvrRegressor,),
        quick={"C": 1.0},
    )
)
