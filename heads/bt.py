"""``bt``: a linear score learnt from ratings, from pairwise votes (Bradley–Terry), or from both.

The score of a clip is s = w·x + b on standardised features. Ratings pull s towards the
label (squared error); a vote between clips A and B is a Bradley–Terry observation,
P(A preferred) = σ(k·(s_A − s_B)), fitted by the logistic loss on A's share of the win
(1, 0, or 0.5 for a tie); k > 0 is learnt when ratings fix the scale, and 1 otherwise (votes
alone fix no scale: the score is then on the logit scale, good for rankings and pairwise
accuracy, not for MSE). The objective (scipy's L-BFGS) is::

    (rating_weight · Σ squared errors + pair_weight · Σ logistic losses + alpha/2 · ‖w‖²) / (ratings + votes)

Rows with a NaN label only enter through their votes. Votes arrive as the per-row arrays of
:mod:`clapmos.heads.inputs.comparisons` (through metadata routing in a run, so each fold only
sees votes among its own rows). The SPO head's pairwise loss belongs to the same family.

>>> import numpy as np
>>> from clapmos.heads.inputs.comparisons import comparison_arrays
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(40, 3)); quality = X @ [1.0, -1.0, 0.0]
>>> a, b = rng.integers(0, 40, 300), rng.integers(0, 40, 300)
>>> votes = np.where(quality[a] > quality[b], "A", "B")
>>> items, opponents, outcomes = comparison_arrays(a, b, votes, 40)
>>> model = BradleyTerryRegressor().fit(X, np.full(40, np.nan), pair_items=items,
...                                     pair_opponents=opponents, pair_outcomes=outcomes)
>>> from scipy.stats import spearmanr
>>> bool(spearmanr(model.predict(X), quality).statistic > 0.95)
True
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

from clapmos.heads.inputs.comparisons import pairs_within
from clapmos.heads.registry import HeadSpec, register_head


class BradleyTerryRegressor(RegressorMixin, BaseEstimator):
    """Linear scores from ratings and/or Bradley–Terry votes (see the module docstring)."""

    __metadata_request__fit = {"pair_items": True, "pair_opponents": True, "pair_outcomes": True}

    def __init__(self, alpha: float = 1.0, rating_weight: float = 1.0, pair_weight: float = 1.0, max_iter: int = 500):
        self.alpha = alpha
        self.rating_weight = rating_weight
        self.pair_weight = pair_weight
        self.max_iter = max_iter

    def fit(self, X, y, pair_items=None, pair_opponents=None, pair_outcomes=None):
        """Fit on the labelled rows of ``y`` (NaN: unlabelled; one column per target) and the votes among the rows."""
        X = validate_data(self, X, ensure_min_samples=2)
        Y = np.asarray(y, dtype=float)
        self._multi = Y.ndim == 2 and Y.shape[1] > 1  # the votes serve every target
        Y = Y.reshape(len(Y), -1) if Y.ndim == 2 else column_or_1d(Y, warn=True)[:, None]
        check_consistent_length(X, Y)
        if np.isinf(Y).any():
            raise ValueError("y contains infinity")
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        if pair_opponents is None:
            a = b = np.zeros(0, dtype=np.int64)
            share = np.zeros(0)
        else:
            a, b, share = pairs_within(np.arange(len(X)) if pair_items is None else pair_items, pair_opponents, pair_outcomes)
        self.n_votes_ = len(a)
        fits = [self._fit_one(Z, column, Z[a] - Z[b], share) for column in Y.T]
        self.coef_ = np.array([f[0] for f in fits]) if self._multi else fits[0][0]
        self.intercept_ = np.array([f[1] for f in fits]) if self._multi else fits[0][1]
        self.scale_ = np.array([f[2] for f in fits]) if self._multi else fits[0][2]
        self.n_iter_ = max(f[3] for f in fits)
        return self

    def _fit_one(self, Z: np.ndarray, y: np.ndarray, diff: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, float, float, int]:
        """``(w, b, k, iterations)`` for one target."""
        rated = ~np.isnan(y)
        if not rated.any() and not len(diff):
            raise ValueError("nothing to learn from: every label is NaN and no vote is among the rows")
        learn_scale = bool(rated.any() and len(diff))
        d = Z.shape[1]
        start = np.zeros(d + 2)
        start[d] = y[rated].mean() if rated.any() else 0.0
        Zr, yr = Z[rated], y[rated]
        n_obs = len(yr) + len(diff)

        def objective(theta):
            w, bias, log_k = theta[:d], theta[d], theta[d + 1] if learn_scale else 0.0
            loss, grad = self.alpha / 2 * w @ w / n_obs, np.zeros_like(theta)
            grad[:d] = self.alpha * w / n_obs
            if len(yr):
                residual = Zr @ w + bias - yr
                loss += self.rating_weight * residual @ residual / n_obs
                grad[:d] += self.rating_weight * 2 * Zr.T @ residual / n_obs
                grad[d] += self.rating_weight * 2 * residual.sum() / n_obs
            if len(diff):
                k = np.exp(log_k)
                margin = diff @ w
                loss -= self.pair_weight * np.sum(share * log_expit(k * margin) + (1 - share) * log_expit(-k * margin)) / n_obs
                dloss = self.pair_weight * (expit(k * margin) - share) / n_obs  # d loss / d (k·margin)
                grad[:d] += k * diff.T @ dloss
                if learn_scale:
                    grad[d + 1] = k * margin @ dloss
            return loss, grad

        result = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        return result.x[:d], float(result.x[d]), float(np.exp(result.x[d + 1])) if learn_scale else 1.0, max(int(result.nit), 1)

    def predict(self, X):
        """The clips' scores (the rating scale when ratings were given, else the logit scale of the votes)."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False)
        Z = self.scaler_.transform(X)
        return Z @ self.coef_.T + self.intercept_ if self._multi else Z @ self.coef_ + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.allow_nan = False
        return tags


def build_bt(**_) -> BradleyTerryRegressor:
    """The model step of the ``bt`` head."""
    return BradleyTerryRegressor()


register_head(
    HeadSpec(
        name="bt",
        summary="linear scores from ratings and/or pairwise votes (Bradley–Terry)",
        build=build_bt,
        scaled=False,  # it standardises its input itself
        types=(BradleyTerryRegressor,),
        comparisons=True,
    )
)
