"""A linear ensemble's predictions in numpy alone: the arrays of its fold models, saved beside the model.

A cached re-score spends most of its time importing scikit-learn and skops, not computing.
When every fold model of a target's :class:`~clapmos.heads.runs.ensemble.CVEnsemble` is a
pipeline *feature blocks → [StandardScaler] → a linear model* (``ridge``), and its members
are averaged or stacked by a linear model, its prediction is a few matrix products:
:func:`linear_form` takes out those arrays (:class:`LinearForm`), which the model folder keeps
in ``linear.npz`` (no pickle; its sha256 in ``model.json``, see
:mod:`clapmos.heads.runs.persistence`), and a loaded run predicts with them without importing
scikit-learn or skops. Each step repeats scikit-learn's arithmetic (the scaler's mean cast to
the input's type, ``X @ coef_ + intercept_``), and a form is kept only when it gives the
ensemble's own predictions and spread on probe rows (:func:`linear_form`): otherwise the model
is used as before, just slower to load.

>>> import numpy as np
>>> from clapmos.heads.registry import make_head
>>> from clapmos.heads.runs.ensemble import CVEnsemble
>>> rng = np.random.default_rng(0)
>>> X, y = rng.normal(size=(40, 8)), rng.normal(size=40)
>>> ensemble = CVEnsemble(make_head("ridge", target="overall"), n_splits=4).fit(X, y)
>>> mean, std = linear_form(ensemble).predict(X)
>>> bool(np.array_equal(mean, ensemble.predict(X)))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clapmos.heads.inputs.blocks import build_blocks

LINEAR_FILE = "linear.npz"
#: how closely a form must repeat its ensemble on the probe rows (relative to the predictions' size)
TOLERANCE = 1e-9
PROBE_ROWS = 64


@dataclass(frozen=True)
class LinearModel:
    """One fold model: the feature blocks it reads, its scaler (``None``: none) and its linear map."""

    blocks: tuple[str, ...]
    layout: tuple[tuple[str, int, int], ...]
    unit_norm: bool
    embedders: tuple[str, ...] | None
    maxima: tuple[tuple[float, float], ...] | None
    mean: np.ndarray | None
    scale: np.ndarray | None
    coef: np.ndarray
    intercept: np.ndarray

    def predict(self, X: np.ndarray) -> np.ndarray:
        features = build_blocks(X, self.layout, self.blocks, self.unit_norm, self.embedders, self.maxima)
        return _linear(_scaled(features, self.mean, self.scale), self.coef, self.intercept)


@dataclass(frozen=True)
class LinearForm:
    """A fitted ensemble as arrays: per member its fold models, then the stacking maps (or the mean) and the clip."""

    members: tuple[tuple[LinearModel, ...], ...]
    stackers: tuple[tuple[np.ndarray, np.ndarray], ...] | None  # per target: (coef, intercept)
    clip: tuple[float, float] | None
    n_features: int

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ensemble's prediction and the spread of its fold models (``CVEnsemble.predict(X, return_std=True)``)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[-1] if X.ndim else 0} features, but the model was fitted on {self.n_features}")
        if not np.issubdtype(X.dtype, np.number):
            raise ValueError(f"X must hold numbers, got {X.dtype}")
        if not np.isfinite(X).all():
            raise ValueError("Input X contains NaN or infinity")
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        per_member = [np.stack([model.predict(X) for model in models]) for models in self.members]
        means = np.stack([p.mean(axis=0) for p in per_member])
        if self.stackers is not None:
            flat = means.reshape(means.shape[0], means.shape[1], -1)
            prediction = np.column_stack([_linear(flat[:, :, t].T, coef, intercept) for t, (coef, intercept) in enumerate(self.stackers)])
            prediction = prediction.reshape(means.shape[1:])
        else:
            prediction = means.mean(axis=0)
        if self.clip is not None:
            prediction = np.clip(prediction, self.clip[0], self.clip[1])
        return prediction, np.concatenate(per_member).std(axis=0)

    # ------------------------------------------------------------------ files
    def save(self, folder: str | Path) -> dict[str, Any]:
        """Write the arrays to ``folder/linear.npz``; return the description ``model.json`` keeps beside them."""
        arrays: dict[str, np.ndarray] = {}
        members = []
        for m, models in enumerate(self.members):
            described = []
            for k, model in enumerate(models):
                for name in ("mean", "scale", "coef", "intercept"):
                    if getattr(model, name) is not None:
                        arrays[f"m{m}.k{k}.{name}"] = np.asarray(getattr(model, name))
                described.append({"blocks": list(model.blocks), "layout": [list(s) for s in model.layout], "unit_norm": model.unit_norm,
                                  "embedders": None if model.embedders is None else list(model.embedders),
                                  "maxima": None if model.maxima is None else [list(m) for m in model.maxima]})
            members.append(described)
        for t, (coef, intercept) in enumerate(self.stackers or ()):
            arrays[f"s{t}.coef"], arrays[f"s{t}.intercept"] = np.asarray(coef), np.asarray(intercept)
        np.savez(Path(folder) / LINEAR_FILE, **arrays)
        return {"file": LINEAR_FILE, "members": members, "stackers": None if self.stackers is None else len(self.stackers),
                "clip": None if self.clip is None else list(self.clip), "n_features": self.n_features}

    @classmethod
    def load(cls, folder: str | Path, description: dict[str, Any]) -> LinearForm:
        """The form written by :meth:`save` (its file's sha256 is checked by the caller, with the model's other files)."""
        with np.load(Path(folder) / description["file"], allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        members = tuple(
            tuple(LinearModel(
                blocks=tuple(d["blocks"]), layout=tuple((str(n), int(a), int(t)) for n, a, t in d["layout"]), unit_norm=bool(d["unit_norm"]),
                embedders=None if d["embedders"] is None else tuple(d["embedders"]),
                maxima=None if d["maxima"] is None else tuple((float(a), float(b)) for a, b in d["maxima"]),
                **{name: arrays.get(f"m{m}.k{k}.{name}") for name in ("mean", "scale", "coef", "intercept")},
            ) for k, d in enumerate(models))
            for m, models in enumerate(description["members"])
        )
        stackers = None if description["stackers"] is None else tuple(
            (arrays[f"s{t}.coef"], arrays[f"s{t}.intercept"]) for t in range(int(description["stackers"])))
        clip = None if description["clip"] is None else (float(description["clip"][0]), float(description["clip"][1]))
        return cls(members, stackers, clip, int(description["n_features"]))


def linear_form(ensemble: Any) -> LinearForm | None:
    """The arrays of a fitted ensemble whose every fold model and stacker is linear, or ``None``.

    ``None`` also when the form does not repeat the ensemble's prediction and spread on
    :data:`PROBE_ROWS` random rows (in float32 and float64) to within :data:`TOLERANCE`.
    """
    from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from clapmos.heads.inputs.features import PairedEmbeddingFeatures
    from clapmos.heads.runs.ensemble import CVEnsemble

    linear = (Ridge, RidgeCV, LinearRegression)
    if type(ensemble) is not CVEnsemble or not hasattr(ensemble, "models_") or not hasattr(ensemble, "n_features_in_"):
        return None
    members = []
    for models in ensemble.models_.values():
        fold_models = []
        for model in models:
            steps = [step for _, step in model.steps] if type(model) is Pipeline else []
            steps = [step for step in steps if step not in (None, "passthrough")]
            if not (2 <= len(steps) <= 3 and type(steps[0]) is PairedEmbeddingFeatures and type(steps[-1]) in linear):
                return None
            scaler = steps[1] if len(steps) == 3 else None
            if scaler is not None and type(scaler) is not StandardScaler:
                return None
            features, final = steps[0], steps[-1]
            fold_models.append(LinearModel(
                blocks=tuple(features.blocks_), layout=tuple(tuple(s) for s in features._layout()), unit_norm=bool(features.unit_norm),
                embedders=None if features.embedders is None else tuple([features.embedders] if isinstance(features.embedders, str) else features.embedders),
                maxima=None if getattr(features, "distance_maxima_", None) is None else tuple(tuple(map(float, m)) for m in features.distance_maxima_),
                mean=None if scaler is None or not scaler.with_mean else np.asarray(scaler.mean_),
                scale=None if scaler is None or not scaler.with_std or scaler.scale_ is None else np.asarray(scaler.scale_),
                coef=np.asarray(final.coef_), intercept=np.asarray(final.intercept_),
            ))
        members.append(tuple(fold_models))
    stackers = None
    if ensemble.stackers_ is not None:
        if not all(type(s) in linear for s in ensemble.stackers_):
            return None
        stackers = tuple((np.asarray(s.coef_), np.asarray(s.intercept_)) for s in ensemble.stackers_)
    clip = None if ensemble.clip is None else (float(ensemble.clip[0]), float(ensemble.clip[1]))
    form = LinearForm(tuple(members), stackers, clip, int(ensemble.n_features_in_))
    return form if _repeats(form, ensemble) else None


def _repeats(form: LinearForm, ensemble: Any) -> bool:
    """Whether ``form`` gives the ensemble's prediction and spread on random probe rows."""
    probe = np.random.default_rng(0).normal(size=(PROBE_ROWS, form.n_features))
    for X in (probe, probe.astype(np.float32)):
        try:
            ours = form.predict(X)
        except ValueError:
            return False
        theirs = ensemble.predict(X, return_std=True)
        for a, b in zip(ours, theirs):
            b = np.asarray(b, dtype=np.float64)
            if a.shape != b.shape or not np.all(np.abs(a - b) <= TOLERANCE * (1.0 + np.abs(b))):
                return False
    return True


def _scaled(features: np.ndarray, mean: np.ndarray | None, scale: np.ndarray | None) -> np.ndarray:
    """``StandardScaler.transform``: a float copy, the mean and scale cast to its type, subtracted and divided in place."""
    if mean is None and scale is None:
        return features
    out = np.array(features, dtype=features.dtype if features.dtype in (np.float32, np.float64) else np.float64)
    if mean is not None:
        out -= mean.astype(out.dtype)
    if scale is not None:
        out /= scale.astype(out.dtype)
    return out


def _linear(X: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """A linear model's ``predict``: ``X @ coef_ + intercept_`` (``coef_.T`` for several outputs)."""
    return (X @ coef if coef.ndim == 1 else X @ coef.T) + intercept

