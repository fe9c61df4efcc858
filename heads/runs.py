"""A fit *run*: cross-validated ensembles of heads trained on a store, saved as a folder.

This is what ``cli.py fit`` and ``cli.py predict`` do, as plain functions for notebooks:

>>> config = RunConfig(embedder="spectral", heads=["ridge"], cv=3)        # doctest: +SKIP
>>> run = fit_run(FeatureStore.open("demo/store.zarr"), config)           # doctest: +SKIP
>>> save_run(run, "runs/ridge"); load_run("runs/ridge").predict(store, "dev")  # doctest: +SKIP

One :class:`~heads.ensemble.CVEnsemble` is fitted per target (each target has its
own default feature blocks), on the training split's labelled items. Heads that use
listener ratings (``spo_mlp``, ``cosine``) receive them through scikit-learn's
metadata routing, sliced per fold, so that their per-listener statistics never see a
held-out fold. A run folder holds::

    config.json       the exact configuration
    provenance.json   the store's embedder attributes the model was trained on
    model/<target>/   the fitted ensemble (see heads.persistence: no pickle)
    oof_predictions.csv
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn

from embed.errors import ClapmosError
from embed.store import FeatureStore
from heads.ensemble import CVEnsemble
from heads.persistence import load_model, save_model
from heads.ratings import listener_matrices
from heads.registry import HEAD_NAMES, make_head
from heads.run_folder import writing_run_folder
from heads.validation import check_run_config

log = logging.getLogger(__name__)
LISTENER_HEADS = ("spo_mlp", "cosine")  # heads whose fit takes listener ratings
GROUPINGS = ("none", "system", "prompt")
#: Provenance that must match between the training store and a store to predict on.
COMPATIBLE_ATTRS = ("embedder", "audio_dim", "text_dim", "sample_rate", "window_s", "hop_s", "pooling", "checkpoint_sha256")


@dataclass
class RunConfig:
    """Everything ``fit`` needs besides the store; saved as ``config.json``."""

    embedder: str
    heads: list[str] = field(default_factory=lambda: ["spo_mlp"])
    targets: list[str] | None = None
    features: list[str] | None = None
    train_split: list[str] = field(default_factory=lambda: ["train"])
    eval_split: list[str] | None = None
    cv: int = 5
    group: str = "none"
    seeds: int = 1
    stack: bool = True
    screening_tau: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    random_state: int = 0

    def check(self, store: FeatureStore) -> None:
        """Refuse, with one readable message, settings that do not fit this store."""
        unknown = [h for h in self.heads if h not in HEAD_NAMES]
        if unknown or not self.heads:
            raise ClapmosError(f"--head {','.join(self.heads)}: unknown head(s) {', '.join(unknown)}; choose from {', '.join(HEAD_NAMES)}")
        if self.group not in GROUPINGS:
            raise ClapmosError(f"--group must be one of {', '.join(GROUPINGS)}, got {self.group!r}")
        missing = [t for t in self.targets or [] if t not in store.targets]
        if missing:
            raise ClapmosError(f"--target {', '.join(missing)}: {store.path} has no such target; its targets are {', '.join(store.targets)}")
        store.rows(self.train_split)  # names unknown splits
        if self.eval_split:
            store.rows(self.eval_split)
        store.embedder_attrs(self.embedder)  # names a missing embedder
        check_run_config(self, store)  # option values and model parameters, through the estimators' own checks


@dataclass
class FittedRun:
    """The fitted ensembles of a run, per target, with what they were trained on."""

    config: RunConfig
    models: dict[str, CVEnsemble]
    provenance: dict[str, Any]
    oof: pd.DataFrame

    def check_store(self, store: FeatureStore) -> None:
        """Refuse a store whose embeddings differ from the training store's (embedder, dims, checkpoint...)."""
        embedder = self.config.embedder
        if embedder not in store.embedders:
            raise ClapmosError(
                f"the model was trained on {embedder!r} features but {store.path} has "
                f"{', '.join(store.embedders) or 'none'}. Embed this store with --embedder {embedder} first."
            )
        theirs = store.embedder_attrs(embedder)
        differ = [
            f"{k}: model {self.provenance.get(k)!r}, store {theirs.get(k)!r}"
            for k in COMPATIBLE_ATTRS
            if k in self.provenance and _same(self.provenance.get(k), theirs.get(k)) is False
        ]
        if differ:
            raise ClapmosError(
                f"{store.path}: its {embedder!r} features were made differently from the model's training features:\n  "
                + "\n  ".join(differ)
                + "\nEmbed it with the same embedder settings, or fit a model on this store."
            )

    def predict(self, store: FeatureStore, split: str | list[str] | None = None) -> pd.DataFrame:
        """Predictions for the items of ``split``: ``id``, ``system``, one column per target and ``<target>_std``."""
        self.check_store(store)
        items = store.items(split)
        X = store.paired(self.config.embedder, split)
        frame = items[["id", "system"]].reset_index(drop=True)
        for target, model in self.models.items():
            mean, std = model.predict(X, return_std=True)
            frame[target] = np.asarray(mean, dtype=np.float64)
            frame[f"{target}_std"] = np.asarray(std, dtype=np.float64)
        return frame

    @property
    def targets(self) -> list[str]:
        return list(self.models)


def fit_run(store: FeatureStore, config: RunConfig) -> FittedRun:
    """Fit one cross-validated ensemble per target on the training split of ``store``."""
    config.check(store)
    targets = config.targets or store.targets
    if not targets:
        raise ClapmosError(f"{store.path} has no targets to fit (an unlabelled corpus). Embed a labelled split.")
    config = replace(config, targets=list(targets))  # the saved configuration names them explicitly
    rows_all = store.rows(config.train_split)
    items = store.items()
    X_all = store.paired(config.embedder, config.train_split)
    labels = store.labels(config.train_split)
    ratings = store.ratings()
    models, oof = {}, items.iloc[rows_all][["id", "system", "split"]].reset_index(drop=True)
    for target in targets:
        known = labels[target].notna().to_numpy()
        if known.sum() < 2:
            raise ClapmosError(f"split {'+'.join(config.train_split)} has {int(known.sum())} labelled item(s) for {target!r}; need at least 2.")
        if not known.all():
            log.warning("%s: %d unlabelled item(s) of %s left out of training", target, int((~known).sum()), "+".join(config.train_split))
        rows, X, y = rows_all[known], X_all[known], labels[target].to_numpy(np.float64)[known]
        ensemble, fit_params = _ensemble(config, target, ratings, len(store), rows)
        with sklearn.config_context(enable_metadata_routing=True):  # SPO heads request the listener arrays
            ensemble.fit(X, y, groups=_groups(config.group, items.iloc[rows]), **fit_params)
        models[target] = ensemble
        oof[target] = labels[target].to_numpy(np.float64)
        predictions = {"": ensemble.oof_prediction_}
        if len(ensemble.oof_members_) > 1:
            predictions |= {f"_{name}": member for name, member in ensemble.oof_members_.items()}
        for suffix, values in predictions.items():
            oof[f"{target}_pred{suffix}"] = np.nan
            oof.loc[known, f"{target}_pred{suffix}"] = values
    provenance = {**store.embedder_attrs(config.embedder), "store": str(store.path), "corpus": store.corpus}
    return FittedRun(config, models, provenance, oof)


def _ensemble(config: RunConfig, target: str, ratings: pd.DataFrame, n_items: int, rows: np.ndarray):
    members = []
    for head in config.heads:
        params = _head_params(config, head)
        if head in LISTENER_HEADS and config.screening_tau is not None:
            params.setdefault("screening_tau", config.screening_tau)
        blocks = None if head == "cosine" else config.features
        members.append((head, make_head(head, blocks=blocks, target=target, random_state=config.random_state, **params)))
    fit_params = {}
    if any(h in LISTENER_HEADS for h in config.heads) and len(ratings) and ratings[target].notna().any():
        scores, ids = listener_matrices(ratings[ratings[target].notna()], n_items, target)
        fit_params = {"listener_scores": scores[rows], "listener_ids": ids[rows]}
    ensemble = CVEnsemble(members, n_splits=config.cv, n_seeds=config.seeds, stack=config.stack, random_state=config.random_state)
    return ensemble, fit_params


def _head_params(config: RunConfig, head: str) -> dict[str, Any]:
    """``--param key=value`` applies to every head; ``--param head.key=value`` to one head."""
    params = {}
    for key, value in config.params.items():
        scope, dot, name = key.partition(".")
        if not dot:
            params[key] = value
        elif scope == head:
            params[name] = value
        elif scope not in HEAD_NAMES:
            raise ClapmosError(f"--param {key}: {scope!r} is not a head name ({', '.join(HEAD_NAMES)})")
    return params


def _groups(group: str, items: pd.DataFrame) -> np.ndarray | None:
    if group == "none":
        return None
    column = {"system": "system", "prompt": "text"}[group]
    values = items[column].to_numpy()
    if (values == "").any():
        raise ClapmosError(f"--group {group}: {int((values == '').sum())} training item(s) have no {column}; use --group none.")
    return values


# ---------------------------------------------------------------------- saving
def save_run(run: FittedRun, folder: str | Path) -> None:
    """Write a run folder (configuration, provenance, out-of-fold predictions, models).

    An existing run at ``folder`` is replaced whole, and only when the new one is
    complete (see :mod:`heads.run_folder`); anything else there is refused.
    """
    with writing_run_folder(folder) as staging:
        write_run_files(run, staging)


def write_run_files(run: FittedRun, folder: Path) -> None:
    """The files of a run, written into the (new, empty) ``folder``."""
    (folder / "config.json").write_text(json.dumps(asdict(run.config), indent=2))
    (folder / "provenance.json").write_text(json.dumps(run.provenance, indent=2, default=str))
    run.oof.to_csv(folder / "oof_predictions.csv", index=False)
    for target, model in run.models.items():
        save_model(model, folder / "model" / target)


def load_run(folder: str | Path) -> FittedRun:
    """Load a run folder written by :func:`save_run` (or ``cli.py fit``)."""
    folder = Path(folder)
    for name in ("config.json", "provenance.json"):
        if not (folder / name).is_file():
            raise ClapmosError(f"{folder} is not a clapmos run folder (no {name}). Pass the folder given to `clapmos fit --out`.")
    try:
        config = RunConfig(**json.loads((folder / "config.json").read_text()))
        provenance = json.loads((folder / "provenance.json").read_text())
    except (TypeError, json.JSONDecodeError) as error:
        raise ClapmosError(f"{folder}: config.json or provenance.json is damaged ({error}).") from None
    targets = list(config.targets or [])
    missing = [t for t in targets if not (folder / "model" / t).is_dir()]
    if missing or not targets:
        raise ClapmosError(
            f"{folder}: the model of target(s) {', '.join(missing) or '(none recorded)'} is missing (model/<target>/); "
            "the run folder is incomplete. Fit it again."
        )
    models = {t: load_model(folder / "model" / t) for t in targets}
    oof = pd.read_csv(folder / "oof_predictions.csv", dtype={"id": str, "system": str}, keep_default_na=False, na_values=[""]) if (folder / "oof_predictions.csv").is_file() else pd.DataFrame()
    return FittedRun(config, models, provenance, oof)


def _same(a: Any, b: Any) -> bool | None:
    """Equal (numbers compared as floats); ``None`` when the store does not record the attribute."""
    if b is None:
        return None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b
