"""A fit *run*: cross-validated ensembles of heads trained on a store, saved as a folder.

This is what ``cli.py fit`` and ``cli.py predict`` do, as plain functions for notebooks:

>>> config = RunConfig(embedders=["spectral"], heads=["ridge"], cv=3)        # doctest: +SKIP
>>> run = fit_run(FeatureStore.open("demo/store.zarr"), config)           # doctest: +SKIP
>>> save_run(run, "runs/ridge"); load_run("runs/ridge").predict(store, "dev")  # doctest: +SKIP

One :class:`~clapmos.heads.runs.ensemble.CVEnsemble` is fitted per target (each target has its
own default feature blocks), on the training split's labelled items. Heads that use
listener ratings (``spo_mlp``, ``cosine``) receive them through scikit-learn's
metadata routing, sliced per fold, so that their per-listener statistics never see a
held-out fold. A run with frame heads (``attn_mlp``, ``xattn``) gives every member the
embedder's frame tokens (:class:`~clapmos.embed.store.frames.Frames`, carrying the clip vectors for the
clip-vector heads beside them) and predicts in batches read from the store. A run folder holds::

    config.json       the exact configuration
    provenance.json   the store's embedder attributes the model was trained on
    model/<target>/   the fitted ensemble (see clapmos.heads.runs.persistence: no pickle), and for a linear
                      one its arrays (clapmos.heads.runs.linear_form), which scoring uses without scikit-learn
    oof_predictions.csv
    .clapmos-written.json   the sha256 of every file (clapmos.embed.ownership); loading checks config,
                      provenance and models against it, so an edited file never silently changes scores

Loading a run folder (:func:`load_run`, :class:`FittedRun`) is :mod:`clapmos.heads.runs.fitted`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn

from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore
from clapmos.heads.inputs.comparisons import comparison_arrays
from clapmos.heads.runs.fitted import FittedRun, load_run
from clapmos.heads.runs.frame_heads import with_vectors
from clapmos.heads.inputs.ratings import listener_matrices
from clapmos.heads.registry import head_spec, member_head
from clapmos.heads.runs.config import RunConfig
from clapmos.heads.runs.ensemble import CVEnsemble
from clapmos.heads.runs.folder import writing_run_folder
from clapmos.heads.runs.members import member_params, member_pipelines
from clapmos.heads.runs.persistence import save_model
from clapmos.heads.runs.pretrain_store import pretrain_embedder_of, pretrain_overlap, pseudo_labelled

__all__ = ["FittedRun", "RunConfig", "fit_run", "load_run", "save_run"]

log = logging.getLogger(__name__)


def fit_run(store: FeatureStore, config: RunConfig) -> FittedRun:
    """Fit one cross-validated ensemble per target on the training split of ``store``."""
    config.check(store)
    targets = config.targets or store.targets
    if not targets:
        raise ClapmosError(f"{store.path} has no targets to fit (an unlabelled corpus). Embed a labelled split.")
    config = replace(config, targets=list(targets))  # the saved configuration names them explicitly
    rows_all = store.rows(config.train_split)
    items = store.items()
    X_all, layout = store.stacked(config.embedders, config.train_split)
    n_features = X_all.shape[1]
    if config.reads_frames:
        vector_heads = any(head_spec(member_head(h)).inputs == "vectors" for h in config.heads)
        X_all = with_vectors(store.frames(config.embedders[0], config.train_split), X_all if vector_heads else None)
    labels = store.labels(config.train_split)
    ratings = store.ratings()
    votes = store.comparisons(config.train_split) if all(head_spec(member_head(h)).comparisons for h in config.heads) else None
    pretraining = pseudo_labelled(store, config)
    models, oof = {}, items.iloc[rows_all][["id", "system", "split", *(["corpus"] if config.corpora else [])]].reset_index(drop=True)
    _preflight(config, n_rows=len(rows_all), n_features=n_features, n_targets=len(targets))
    for target in targets:
        target_votes = _votes_of(votes, target)
        known = labels[target].notna().to_numpy().copy()
        if target_votes is not None:  # heads that learn from votes also train on the unlabelled clips that have some
            known |= np.isin(rows_all, target_votes[["a", "b"]].to_numpy().ravel())
        if known.sum() < 2:
            raise ClapmosError(f"split {'+'.join(config.train_split)} has {int(known.sum())} labelled item(s) for {target!r}; need at least 2.")
        if not known.all():
            log.warning("%s: %d unlabelled item(s) of %s left out of training", target, int((~known).sum()), "+".join(config.train_split))
        rows, X, y = rows_all[known], X_all if known.all() else X_all[known], labels[target].to_numpy(np.float64)[known]
        ensemble, fit_params = _ensemble(config, target, layout, ratings, len(store), rows, target_votes)
        if config.corpora:  # each row's corpus: the aligned heads learn a map per corpus, and predict each row on its own scale
            fit_params["corpus"] = store.corpus_labels(config.train_split)[known]
        if pretraining is not None:
            from clapmos.heads.runs.pretraining import pretrain_members

            with sklearn.config_context(enable_metadata_routing=False):
                done = pretrain_members(ensemble.estimators, *pretraining)
            log.info("%s: pretrained %s on %d pseudo-labelled pairs", target, ", ".join(done) or "no member", len(pretraining[1]))
        with sklearn.config_context(enable_metadata_routing=True):  # SPO heads request the listener arrays
            ensemble.fit(X, y, groups=_groups(config.group, items.iloc[rows]), **fit_params)
        if pretraining is not None:
            from clapmos.heads.runs.pretraining import strip_starts

            strip_starts(ensemble.estimators)
        models[target] = ensemble
        oof[target] = labels[target].to_numpy(np.float64)
        predictions = {"": ensemble.oof_prediction_}
        if len(ensemble.oof_members_) > 1:
            predictions |= {f"_{name}": member for name, member in ensemble.oof_members_.items()}
        for suffix, values in predictions.items():
            oof[f"{target}_pred{suffix}"] = np.nan
            oof.loc[known, f"{target}_pred{suffix}"] = values
    provenance = {
        "embedders": {e: store.embedder_attrs(e) for e in config.embedders},
        "store": str(store.path),
        "corpus": store.corpus,
        "folds_used": {t: int(models[t].n_splits_) for t in models},  # fewer than config.cv when a group or the data allows fewer
    }
    if config.corpora:
        provenance["corpora"] = {label: {"store": str(s.path), "corpus": s.corpus} for label, s in store.stores.items()}
    if pretraining is not None:
        provenance["pretrain"] = {"store": str(config.pretrain_store), "embedder": pretrain_embedder_of(store, config), "pairs": len(pretraining[1]),
                                  "clips_shared": pretrain_overlap(store, config)}
    if config.reads_frames:
        provenance["frames"] = {config.embedders[0]: store.frame_attrs(config.embedders[0])}
    return FittedRun(config, models, provenance, oof)


def _votes_of(votes: pd.DataFrame | None, target: str) -> pd.DataFrame | None:
    """The pairwise votes a target learns from: those of its dimension, or all when the store judged one dimension."""
    if votes is None or not len(votes):
        return None
    dimensions = set(votes["dimension"])
    if target in dimensions:
        return votes[votes["dimension"] == target]
    return votes if len(dimensions) == 1 else None


def _ensemble(config: RunConfig, target: str, layout, ratings: pd.DataFrame, n_items: int, rows: np.ndarray,
              votes: pd.DataFrame | None = None):
    members = member_pipelines(config, target, layout)
    listener_heads = [h for h in config.members(target) if head_spec(h).listener_ratings]
    fit_params = {}
    if listener_heads and len(ratings) and ratings[target].notna().any():
        scores, ids = listener_matrices(ratings[ratings[target].notna()], n_items, target)
        fit_params = {"listener_scores": scores[rows], "listener_ids": ids[rows]}
    if votes is not None:  # sliced per fold like the rows: a fold's model sees the votes among its own clips only
        items, opponents, outcomes = comparison_arrays(votes["a"], votes["b"], votes["vote"], n_items)
        fit_params = {"pair_items": items[rows], "pair_opponents": opponents[rows], "pair_outcomes": outcomes[rows]}
    ensemble = CVEnsemble(
        members,
        n_splits=config.cv,
        n_seeds=config.seeds,
        stack=config.stack,
        stack_method=config.stack_method,
        clip=None if config.clip is None else tuple(config.clip),
        random_state=config.random_state,
    )
    return ensemble, fit_params


def _preflight(config: RunConfig, n_rows: int, n_features: int, n_targets: int) -> None:
    """Let each head refuse a run it would take too long on (``svr`` on too many rows), before fitting."""
    fold_rows = n_rows if config.cv == 1 else n_rows - n_rows // config.cv
    for member in config.heads:
        spec = head_spec(member)
        if spec.preflight is not None:
            params = member_params(config, member)
            spec.preflight(n_rows=fold_rows, n_features=n_features, n_fits=config.cv * config.seeds * n_targets, params=params)


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
    complete (see :mod:`clapmos.heads.runs.folder`); anything else there is refused.
    """
    with writing_run_folder(folder) as staging:
        write_run_files(run, staging)


def write_run_files(run: FittedRun, folder: Path) -> None:
    """The files of a run, written into the (new, empty) ``folder``."""
    (folder / "config.json").write_text(json.dumps({**asdict(run.config), "model_seeds": model_seeds(run.models)}, indent=2))
    (folder / "provenance.json").write_text(json.dumps(run.provenance, indent=2, default=str))
    run.oof.to_csv(folder / "oof_predictions.csv", index=False)
    for target, model in run.models.items():
        save_model(model, folder / "model" / target)


def model_seeds(models: dict[str, CVEnsemble]) -> dict[str, dict[str, list[int]]]:
    """Per target and member, the seed each fold model was trained with (``config.json``'s ``model_seeds``)."""
    return {target: {name: list(seeds) for name, seeds in getattr(model, "model_seeds_", {}).items()} for target, model in models.items()}


