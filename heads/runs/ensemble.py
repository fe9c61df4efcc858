"""Cross-validated ensembles: fold models, several seeds, optional ridge stacking of several heads.

:class:`CVEnsemble` fits every member head on K folds (grouped folds when ``groups``
is given, so that a system or a prompt never sits on both sides), for ``n_seeds``
different shufflings. It keeps the out-of-fold predictions (honest estimates of how
the heads generalise), predicts new data with the mean of the fold models, and, with
several heads, stacks them with a ridge fitted on their out-of-fold predictions. The
spread of all fold models' predictions is returned by ``predict(X, return_std=True)``
as a per-item uncertainty.

>>> import numpy as np
>>> from sklearn.linear_model import Ridge
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(60, 4)); y = X @ [1.0, 2.0, 0.0, -1.0] + 0.1 * rng.normal(size=60)
>>> ens = CVEnsemble([("ridge", Ridge(alpha=0.1)), ("strong", Ridge(alpha=100.0))], n_splits=3).fit(X, y)
>>> ens.oof_prediction_.shape, len(ens.models_["ridge"])
((60,), 3)
>>> mean, std = ens.predict(X[:2], return_std=True)
>>> mean.shape, bool((std >= 0).all())
((2,), True)
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GroupKFold, KFold, cross_val_predict
from sklearn.utils import check_random_state
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.validation import _check_y, check_array, check_consistent_length, check_is_fitted, validate_data

from clapmos.embed.store.frames import Frames


class CVEnsemble(RegressorMixin, BaseEstimator):
    """K-fold ensemble of one or several regressors ("heads"), optionally stacked with ridge.

    Parameters
    ----------
    estimators : estimator or list of (name, estimator), default=None
        The member heads. ``None`` means one ridge regression.
    n_splits : int, default=5
        Folds. Fewer are used, with a warning, when there are too few samples or groups.
        ``1`` trains one model per member on every row (a published single-model
        protocol): no out-of-fold predictions (NaN), so several members are averaged.
    n_seeds : int, default=1
        Repetitions with different shufflings (and member ``random_state``); the
        out-of-fold prediction is their mean, and every fold model joins the ensemble.
    stack : bool, default=True
        With several members, combine them with a ridge fitted on their out-of-fold
        predictions (per target); otherwise, or with one member, average them.
    stack_alpha : float, default=1.0
        Regularisation of the stacking ridge.
    stack_method : {"ridge", "nnls"}, default="ridge"
        How several members are combined: a ridge with intercept, or a blend with
        non-negative weights and no intercept that minimises the squared error of the
        out-of-fold predictions (scikit-learn's ``LinearRegression(positive=True)``, an
        NNLS fit: the XACLE second place's blend, fitted honestly).
    clip : (low, high) or None, default=None
        Clip every prediction (and the out-of-fold ones) to this score range.
    random_state : int, RandomState or None, default=0
        Seeds the fold shuffling and the members (set on every parameter named
        ``random_state`` or ending in ``__random_state``). An int ``s`` is used as it is:
        repetition ``r`` seeds its folds and its members with ``s + r``, so the first
        repetition's models are trained with exactly ``s`` (a published seed reaches the
        model); a ``RandomState`` or ``None`` draws the seeds.

    Attributes
    ----------
    models_ : dict of name -> list of fitted estimators (seeds × folds)
    oof_prediction_ : ndarray (n_samples,) or (n_samples, n_targets)
        Out-of-fold prediction of the ensemble (stacked honestly by cross-validation).
    oof_members_ : dict of name -> ndarray, out-of-fold predictions of each member
    stackers_ : list of fitted Ridge (or LinearRegression) per target, or None
    n_splits_ : int, the number of folds actually used
    test_fold_ : ndarray (n_samples,), the fold (of the first seed) in which each sample was held out
    model_seeds_ : dict of name -> list of int, the seed each model of ``models_`` was trained with
    """

    # the defaults for ensembles saved before these parameters existed
    stack_method = "ridge"
    clip = None

    def __init__(self, estimators=None, n_splits=5, n_seeds=1, stack=True, stack_alpha=1.0, stack_method="ridge", clip=None, random_state=0):
        self.estimators = estimators
        self.n_splits = n_splits
        self.n_seeds = n_seeds
        self.stack = stack
        self.stack_alpha = stack_alpha
        self.stack_method = stack_method
        self.clip = clip
        self.random_state = random_state

    # ------------------------------------------------------------------ members and routing
    def _members(self) -> list[tuple[str, Any]]:
        if self.estimators is None:
            return [("ridge", Ridge())]
        if isinstance(self.estimators, list):
            names = [name for name, _ in self.estimators]
            if len(set(names)) != len(names):
                raise ValueError(f"member names must be unique, got {names}")
            return list(self.estimators)
        return [("head", self.estimators)]

    def get_metadata_routing(self) -> MetadataRouter:
        """Route fit metadata (e.g. SPO's ``listener_scores``) to the members that request it."""
        router = MetadataRouter(owner=self.__class__.__name__)
        for name, estimator in self._members():
            router.add(**{name: estimator}, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        return router

    def _member_params(self, fit_params: dict[str, Any]) -> dict[str, dict[str, Any]]:
        names = [name for name, _ in self._members()]
        if not fit_params:
            return {name: {} for name in names}
        if get_config()["enable_metadata_routing"]:
            routed = process_routing(self, "fit", **fit_params)
            return {name: dict(routed[name].fit) for name in names}
        # Without routing, every member receives every parameter (fine for one head).
        return {name: dict(fit_params) for name in names}

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, groups=None, **fit_params):
        """Fit the fold models and the stacker.

        Parameters
        ----------
        X : array-like (n_samples, n_features), or :class:`~clapmos.embed.store.frames.Frames` (frame tokens per clip)
        y : array-like (n_samples,) or (n_samples, n_targets)
        groups : array-like (n_samples,), optional
            Group labels (system or prompt ids) for grouped folds.
        **fit_params : sample-aligned arrays passed to the members' ``fit``, sliced per
            fold (routed by scikit-learn's metadata routing when it is enabled). ``corpus``
            (each row's corpus label) also reaches the ``predict`` of the members that take it,
            so the out-of-fold predictions are on each row's own corpus scale.
        """
        if int(self.n_splits) < 1 or int(self.n_seeds) < 1:
            raise ValueError(f"need n_splits >= 1 and n_seeds >= 1, got {self.n_splits} and {self.n_seeds}")
        if self.stack_method not in ("ridge", "nnls"):
            raise ValueError(f"stack_method must be 'ridge' or 'nnls', got {self.stack_method!r}")
        if self.clip is not None and not (len(self.clip) == 2 and float(self.clip[0]) < float(self.clip[1])):
            raise ValueError(f"clip must be (low, high) with low < high, got {self.clip!r}")
        if isinstance(X, Frames):  # sequences of frame tokens: the members validate them
            if y is None:
                raise ValueError("CVEnsemble requires y to be passed, but the target y is None")
            y = _check_y(y, multi_output=True, y_numeric=True, estimator=self)
            check_consistent_length(X, y)
            self.n_features_in_ = X.shape[1]
        elif "pair_opponents" in fit_params:  # heads learning from votes: unlabelled (NaN) rows take part through them
            X = validate_data(self, X)
            y = check_array(y, ensure_2d=False, ensure_all_finite="allow-nan", dtype=np.float64, input_name="y")
            check_consistent_length(X, y)
        else:
            X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        members = self._members()
        params = self._member_params(fit_params)
        predict_params = {k: v for k, v in fit_params.items() if k in PREDICT_METADATA}
        seeds = repetition_seeds(self.random_state, int(self.n_seeds))
        folds_per_seed = [self._folds(X, y, groups, seed) for seed in seeds]
        self.test_fold_ = np.full(len(y), -1)
        for fold, (_, test) in enumerate(folds_per_seed[0]):
            self.test_fold_[test] = fold

        self.models_ = {name: [] for name, _ in members}
        self.model_seeds_ = {name: [] for name, _ in members}
        self.oof_members_ = {}
        for name, member in members:
            oof = np.full((self.n_seeds, *y.shape), np.nan)
            for s, (seed, folds) in enumerate(zip(seeds, folds_per_seed)):
                for train, test in folds:
                    model = _seeded(clone(member), seed)
                    model.fit(X[train], y[train], **{k: _take(v, train) for k, v in params[name].items()})
                    if len(test):
                        given = {k: _take(v, test) for k, v in predict_params.items() if _predict_takes(model, k)}
                        oof[s, test] = np.asarray(model.predict(X[test], **given)).reshape(oof[s, test].shape)
                    self.models_[name].append(model)
                    self.model_seeds_[name].append(seed)
            self.oof_members_[name] = oof.mean(axis=0)

        self.stackers_ = None
        oof_matrix = np.stack([self.oof_members_[n] for n, _ in members])  # (members, n, [t])
        if len(members) > 1 and self.stack and self.n_splits_ == 1:
            warnings.warn("n_splits=1 (one model per member) holds nothing out to stack on: the members are averaged", UserWarning, stacklevel=2)
        if len(members) > 1 and self.stack and self.n_splits_ > 1:
            self.stackers_, self.oof_prediction_ = self._fit_stackers(oof_matrix, y, folds_per_seed[0])
        else:
            self.oof_prediction_ = oof_matrix.mean(axis=0)
        self.oof_prediction_ = self._clipped(self.oof_prediction_)
        return self

    def _clipped(self, prediction: np.ndarray) -> np.ndarray:
        return prediction if self.clip is None else np.clip(prediction, float(self.clip[0]), float(self.clip[1]))

    def _folds(self, X, y, groups, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        n = len(X)
        if int(self.n_splits) == 1:  # one model on every row: nothing held out
            self.n_splits_ = 1
            return [(np.arange(n), np.arange(0))]
        if groups is not None:
            groups = np.asarray(groups)
            available, what = len(np.unique(groups)), f"{len(np.unique(groups))} groups"
        else:
            available, what = n, f"{n} samples"
        k = min(self.n_splits, available)
        if k < 2:
            raise ValueError(f"CVEnsemble needs at least 2 folds, but there are only {what}")
        splitter = (GroupKFold if groups is not None else KFold)(k, shuffle=True, random_state=seed)
        if k < self.n_splits:
            warnings.warn(f"only {what}: using {k} folds instead of {self.n_splits}", UserWarning, stacklevel=3)
        self.n_splits_ = k
        return list(splitter.split(X, y, groups))

    def _fit_stackers(self, oof_matrix: np.ndarray, y: np.ndarray, folds) -> tuple[list[Ridge], np.ndarray]:
        """One ridge per target on the members' out-of-fold predictions; its own OOF by the same folds."""
        Y = y.reshape(len(y), -1)
        P = oof_matrix.reshape(oof_matrix.shape[0], len(y), -1)
        stackers, stacked = [], np.zeros_like(Y, dtype=float)
        for t in range(Y.shape[1]):
            features = P[:, :, t].T
            if self.stack_method == "nnls":
                stacker = LinearRegression(positive=True, fit_intercept=False)
            else:
                stacker = Ridge(alpha=self.stack_alpha)
            stacked[:, t] = cross_val_predict(stacker, features, Y[:, t], cv=folds)
            stackers.append(clone(stacker).fit(features, Y[:, t]))
        return stackers, stacked.reshape(y.shape)

    # ------------------------------------------------------------------ predicting
    def predict_members(self, X, **predict_params) -> dict[str, np.ndarray]:
        """Per member, the predictions of each of its fold models: ``(n_models, n_samples[, n_targets])``.

        ``predict_params`` (``corpus``: each row's corpus label) go to the members whose ``predict`` takes them."""
        check_is_fitted(self)
        if not isinstance(X, Frames):
            X = validate_data(self, X, reset=False)
        unknown = sorted(set(predict_params) - set(PREDICT_METADATA))
        if unknown:
            raise TypeError(f"CVEnsemble.predict got unexpected keyword argument(s) {unknown}; it routes {list(PREDICT_METADATA)}")
        return {name: np.stack([np.asarray(m.predict(X, **{k: v for k, v in predict_params.items() if _predict_takes(m, k)})) for m in models])
                for name, models in self.models_.items()}

    def attention(self, X) -> list[np.ndarray]:
        """Per clip, the attention weight of each frame token: the mean over every fold model of the frame heads."""
        from clapmos.heads.inputs.frame_inputs import attention_of

        check_is_fitted(self)
        per_model = [w for models in self.models_.values() for m in models if (w := attention_of(m, X)) is not None]
        if not per_model:
            raise ValueError("no member of this ensemble gives attention weights (the frame heads attn_mlp and xattn do)")
        return [np.mean([weights[i] for weights in per_model], axis=0) for i in range(len(X))]

    def predict(self, X, return_std: bool = False, **predict_params):
        """Mean of the fold models (stacked across members); with ``return_std``, also their spread.

        ``corpus`` (each row's corpus label) reaches the members that take it (``aligned``): each row on its corpus's scale."""
        per_member = self.predict_members(X, **predict_params)
        means = np.stack([p.mean(axis=0) for p in per_member.values()])
        if self.stackers_ is not None:
            flat = means.reshape(means.shape[0], means.shape[1], -1)
            prediction = np.column_stack([s.predict(flat[:, :, t].T) for t, s in enumerate(self.stackers_)])
            prediction = prediction.reshape(means.shape[1:])
        else:
            prediction = means.mean(axis=0)
        prediction = self._clipped(prediction)
        if not return_std:
            return prediction
        return prediction, np.concatenate(list(per_member.values())).std(axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


#: fit metadata that also goes to the members' ``predict`` (sliced per fold for the out-of-fold predictions)
PREDICT_METADATA = ("corpus",)


def _predict_takes(model, name: str) -> bool:
    """Whether ``model`` (or its last step) has a ``predict`` parameter ``name``."""
    import inspect

    final = model[-1] if hasattr(model, "steps") else model
    return name in inspect.signature(final.predict).parameters


def repetition_seeds(random_state, n_seeds: int) -> list[int]:
    """The seed of each repetition: ``s, s + 1, ...`` for an int ``s`` (the first is ``s`` itself), else drawn.

    >>> repetition_seeds(42, 3)
    [42, 43, 44]
    >>> len(repetition_seeds(None, 2))
    2
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return [int(random_state) + r for r in range(n_seeds)]
    rng = check_random_state(random_state)
    return [int(seed) for seed in rng.randint(np.iinfo(np.int32).max, size=n_seeds)]


def _seeded(estimator, seed: int):
    """Set every ``random_state`` parameter of ``estimator`` (nested ones too) to ``seed``."""
    names = [k for k in estimator.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")]
    return estimator.set_params(**{k: seed for k in names}) if names else estimator


def _take(value, rows: np.ndarray):
    """Rows of a sample-aligned array (lists become arrays); anything else unchanged."""
    if isinstance(value, (list, tuple)):
        value = np.asarray(value, dtype=object)
    return value[rows] if hasattr(value, "shape") and len(getattr(value, "shape", ())) > 0 else value
