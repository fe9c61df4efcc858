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
    model/<target>/   the fitted ensemble (see clapmos.heads.runs.persistence: no pickle)
    oof_predictions.csv
    .clapmos-written.json   the sha256 of every file (clapmos.embed.ownership); loading checks config,
                      provenance and models against it, so an edited file never silently changes scores
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn

from clapmos.embed.errors import ClapmosError
from clapmos.embed.filesystems import download_run, is_url
from clapmos.embed.ownership import verify_recorded
from clapmos.embed.store import FeatureStore, identity_of
from clapmos.heads.inputs.comparisons import comparison_arrays
from clapmos.heads.inputs.frame_inputs import frame_identity, with_vectors
from clapmos.heads.inputs.ratings import listener_matrices
from clapmos.heads.registry import head_spec, member_head
from clapmos.heads.runs.config import RunConfig
from clapmos.heads.runs.ensemble import CVEnsemble
from clapmos.heads.runs.folder import writing_run_folder
from clapmos.heads.runs.members import member_params, member_pipelines
from clapmos.heads.runs.persistence import load_model, save_model
from clapmos.heads.runs.pretrain_store import pretrain_embedder_of, pretrain_overlap, pseudo_labelled

__all__ = ["FittedRun", "RunConfig", "fit_run", "load_run", "save_run"]

log = logging.getLogger(__name__)
PREDICT_BATCH = 512  # clips read from the store at a time when predicting with frame heads


@dataclass
class FittedRun:
    """The fitted ensembles of a run, per target, with what they were trained on."""

    config: RunConfig
    models: dict[str, CVEnsemble]
    provenance: dict[str, Any]
    oof: pd.DataFrame

    def check_store(self, store: FeatureStore) -> None:
        """Refuse a store whose embeddings differ from the training store's, naming the embedder that differs."""
        absent = [e for e in self.config.embedders if e not in store.embedders]
        if absent:
            raise ClapmosError(
                f"the model was trained on {', '.join(self.config.embedders)} features but {store.path} has "
                f"{', '.join(store.embedders) or 'none'}. Embed this store with --embedder {absent[0]} first."
            )
        for embedder in self.config.embedders:
            ours = identity_of(self.provenance["embedders"][embedder])
            theirs = identity_of(store.embedder_attrs(embedder))
            differ = [f"{k}: model {v!r}, store {theirs.get(k)!r}" for k, v in ours.items() if k in theirs and theirs[k] != v]
            if differ:
                raise ClapmosError(
                    f"{store.path}: its {embedder!r} features were made differently from the model's training features:\n  "
                    + "\n  ".join(differ)
                    + "\nEmbed it with the same embedder settings, or fit a model on this store."
                )
        for embedder, attrs in self.provenance.get("frames", {}).items():
            if not store.has_frames(embedder):
                raise ClapmosError(f"the model reads frame tokens of {embedder!r}, but {store.path} has none. {store.frames_hint(embedder)}")
            ours, theirs = frame_identity(attrs), frame_identity(store.frame_attrs(embedder))
            differ = [f"{k}: model {v!r}, store {theirs[k]!r}" for k, v in ours.items() if theirs[k] != v]
            if differ:
                raise ClapmosError(
                    f"{store.path}: its {embedder!r} frame tokens differ from those the model was trained on:\n  "
                    + "\n  ".join(differ)
                    + "\nEmbed it with the same embedder (and --frames), or fit a model on this store."
                )

    def predict(self, store: FeatureStore, split: str | list[str] | None = None, corpus: str | None = None) -> pd.DataFrame:
        """Predictions for the items of ``split``: ``id``, ``system``, one column per target and ``<target>_std``
        (``<target>_spread``, the listeners' predicted disagreement, for a run with a distribution member;
        ``<target>_gate_<embedder>``, the gate weights, for a run with a ``moe`` member).

        A run of several corpora predicts on the scale of ``corpus`` (a label of the run), by default the
        corpus whose store this is, under that corpus's target names (``mos`` for ``--target-map b:mos=overall``),
        so the file scores against that store's labels; a store that is none of the run's is refused (name a ``corpus``)."""
        self.check_store(store)
        label = self.corpus_of(store, corpus)
        items = store.items(split)
        pieces = [self.predict_features(X, corpus=label) for X in self._inputs(store, split)]
        frame = pd.concat([items[["id", "system"]].reset_index(drop=True), pd.concat(pieces, ignore_index=True)], axis=1)
        if label is None:
            return frame
        from clapmos.heads.runs.corpora import under_corpus_names

        return under_corpus_names(frame, self.config.corpora[label]["targets"])

    @property
    def corpora(self) -> list[str]:
        """The corpus labels of a run of several stores, the reference first (empty for a run of one store)."""
        return list(self.config.corpora or {})

    def corpus_of(self, store: FeatureStore, corpus: str | None = None) -> str | None:
        """The corpus on whose scale ``store`` is predicted: ``corpus`` if given, else the run's corpus trained on this very store."""
        if not self.corpora:
            if corpus is not None:
                raise ClapmosError(f"--corpus {corpus}: this run was fitted on one store; it has no corpora to choose from")
            return None
        if corpus is not None:
            if corpus not in self.corpora:
                raise ClapmosError(f"--corpus {corpus}: the run's corpora are {', '.join(self.corpora)}")
            return corpus
        here = Path(str(store.path)).resolve()
        for label, entry in self.config.corpora.items():
            if Path(entry["store"]).resolve() == here:
                return label
        listing = ", ".join(f"{label} ({entry['store']})" for label, entry in self.config.corpora.items())
        raise ClapmosError(f"{store.path} is none of the stores this run was fitted on ({listing}), so its scale is unknown. "
                           f"Name the corpus whose scale to predict on: --corpus {self.corpora[0]} (the reference), or another of them.")

    def predict_features(self, X, corpus: str | None = None) -> pd.DataFrame:
        """One column per target and ``<target>_std`` for feature rows laid out like :meth:`FeatureStore.stacked`'s
        (or, for a run with frame heads, :class:`~clapmos.embed.store.frames.Frames` carrying those rows as ``vectors``).
        A run of several corpora answers on the scale of ``corpus`` (default: the reference corpus, the first)."""
        frame = pd.DataFrame(index=range(len(X)))
        extra = {} if not self.corpora else {"corpus": np.full(len(X), corpus or self.corpora[0], dtype=object).astype(str)}
        for target, model in self.models.items():
            mean, std = model.predict(X, return_std=True, **extra)
            frame[target] = np.asarray(mean, dtype=np.float64)
            frame[f"{target}_std"] = np.asarray(std, dtype=np.float64)
            spread = _listener_spread(model, X)
            if spread is not None:
                frame[f"{target}_spread"] = spread
            for expert, weights in _gate_weights(model, X).items():
                frame[f"{target}_gate_{expert}"] = weights
        return frame

    @property
    def reads_frames(self) -> bool:
        """Whether the run's heads read frame tokens (``attn_mlp``, ``xattn``)."""
        return self.config.reads_frames

    def attention(self, store: FeatureStore, split: str | list[str] | None = None, ids=None) -> pd.DataFrame:
        """Where the frame heads listen: one row per token of the clips of ``split`` (or only ``ids``).

        Columns ``id``, ``time`` (s), ``weight`` (mean over the fold models of the frame
        heads; a clip's weights sum to 1) and ``target``.
        """
        if not self.reads_frames:
            raise ClapmosError("this run has no frame head (attn_mlp, xattn): it gives no attention weights")
        self.check_store(store)
        rows = store.rows(split)
        if ids is not None:
            rows = rows[np.isin(store.items()["id"].to_numpy()[rows], list(ids))]
        X, _ = store.stacked(self.config.embedders)
        frames = with_vectors(store.read_frames(self.config.embedders[0], rows), X[rows])
        tables = []
        for target, model in self.models.items():
            weights = model.attention(frames)
            tables.append(pd.DataFrame({
                "id": np.repeat(frames.ids, frames.lengths),
                "time": frames.times,
                "weight": np.concatenate(weights),
                "target": target,
            }))
        return pd.concat(tables, ignore_index=True)

    def _inputs(self, store: FeatureStore, split):
        """The model inputs of ``split`` in pieces: the whole matrix, or frame tokens (with the matrix) in batches."""
        X, _ = store.stacked(self.config.embedders, split)
        if not self.reads_frames:
            yield X
            return
        embedder = self.config.embedders[0]
        rows = store.rows(split)
        store.check_frames(embedder, rows)
        for start in range(0, len(rows), PREDICT_BATCH):
            frames = store.read_frames(embedder, rows[start : start + PREDICT_BATCH], checked=True)
            yield with_vectors(frames, X[start : start + PREDICT_BATCH])

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


def _final_inputs(model, X):
    """What the last step of a member pipeline reads: ``X`` through the steps before it (none: ``X`` itself)."""
    if hasattr(model, "steps") and len(model.steps) > 1:
        return model[:-1].transform(X)
    return X


def _listener_spread(ensemble: CVEnsemble, X) -> np.ndarray | None:
    """The predicted spread of the listeners' ratings (mean over the fold models of the distribution members), or ``None``."""
    spreads = []
    for models in ensemble.models_.values():
        for model in models:
            final = model[-1] if hasattr(model, "steps") else model
            if getattr(final, "output", "distribution") == "distribution" and hasattr(final, "predict_spread"):
                spreads.append(np.asarray(final.predict_spread(_final_inputs(model, X)), dtype=np.float64))
    return np.mean(spreads, axis=0) if spreads else None


def _gate_weights(ensemble: CVEnsemble, X) -> dict[str, np.ndarray]:
    """Per expert, the gate weight of every row, averaged over the fold models of the members with a gate (``moe``)."""
    per_expert: dict[str, list[np.ndarray]] = {}
    for models in ensemble.models_.values():
        for model in models:
            final = model[-1] if hasattr(model, "steps") else model
            if not hasattr(final, "predict_gates"):
                continue
            for expert, weights in zip(final.experts_, final.predict_gates(_final_inputs(model, X)).T):
                per_expert.setdefault(expert, []).append(weights)
    return {expert: np.mean(weights, axis=0) for expert, weights in per_expert.items()}


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


def load_run(folder: str | Path) -> FittedRun:
    """Load a run folder written by :func:`save_run` (or ``cli.py fit``), or a run at a URL (``s3://...``: copied here first)."""
    if is_url(folder):
        folder = download_run(str(folder))
    folder = Path(folder)
    for name in ("config.json", "provenance.json"):
        if not (folder / name).is_file():
            raise ClapmosError(f"{folder} is not a clapmos run folder (no {name}). Pass the folder given to `clapmos fit --out`.")
    # every file that changes predictions, checked against the run's record (model.json holds the sha256 of the model's other files)
    models_json = [f"model/{p.parent.name}/model.json" for p in sorted((folder / "model").glob("*/model.json"))]
    verify_recorded(folder, ["config.json", "provenance.json", *models_json], "the run")
    try:
        config = RunConfig.from_dict(json.loads((folder / "config.json").read_text()))
        provenance = json.loads((folder / "provenance.json").read_text())
    except (TypeError, json.JSONDecodeError) as error:
        raise ClapmosError(
            f"{folder}: config.json or provenance.json is damaged or was written by an incompatible clapmos version ({error}). "
            "Fit the run again with this version."
        ) from None
    if "embedders" not in provenance:  # a run saved before several embedders: one embedder's attributes
        provenance = {
            "embedders": {config.embedders[0]: {k: v for k, v in provenance.items() if k not in ("store", "corpus")}},
            **{k: provenance[k] for k in ("store", "corpus") if k in provenance},
        }
    targets = list(config.targets or [])
    missing = [t for t in targets if not (folder / "model" / t).is_dir()]
    if missing or not targets:
        raise ClapmosError(
            f"{folder}: the model of target(s) {', '.join(missing) or '(none recorded)'} is missing (model/<target>/); "
            "the run folder is incomplete. Fit it again."
        )
    models = {t: load_model(folder / "model" / t, heads=config.heads) for t in targets}  # only these heads' types are trusted
    oof = pd.read_csv(folder / "oof_predictions.csv", dtype={"id": str, "system": str}, keep_default_na=False, na_values=[""]) if (folder / "oof_predictions.csv").is_file() else pd.DataFrame()
    return FittedRun(config, models, provenance, oof)
