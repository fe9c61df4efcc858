"""One single-output regressor per target column, for models such as LightGBM that predict one."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.multioutput import MultiOutputRegressor
from sklearn.utils.validation import check_is_fitted, validate_data


class PerTargetRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Fit a clone of ``estimator`` per column of a 2-D ``y``, or one clone for a 1-D ``y``.

    A 2-D ``y`` goes to scikit-learn's :class:`~sklearn.multioutput.MultiOutputRegressor`;
    a 1-D ``y`` to a single clone, so one head definition serves both one target
    (XACLE) and two (MusicEval overall and textual). Tune the inner model with
    ``estimator__<param>``.

    Parameters
    ----------
    estimator : regressor
        A single-output regressor.

    Attributes
    ----------
    estimator_ : regressor or MultiOutputRegressor
        What was fitted.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> X = np.arange(20.0).reshape(10, 2); Y = np.c_[X.sum(1), X[:, 0]]
    >>> PerTargetRegressor(Ridge()).fit(X, Y).predict(X[:2]).shape
    (2, 2)
    >>> PerTargetRegressor(Ridge()).fit(X, Y[:, 0]).predict(X[:2]).shape
    (2,)
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y):
        """Fit a clone per column of a 2-D ``y``, or one clone for a 1-D ``y``."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        if y.ndim == 2:
            self.estimator_ = MultiOutputRegressor(self.estimator).fit(X, y)
        else:
            self.estimator_ = clone(self.estimator).fit(X, y)
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions shaped like the ``y`` seen in ``fit``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return np.asarray(self.estimator_.predict(X), dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
