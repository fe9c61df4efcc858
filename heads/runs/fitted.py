"""A fitted run: its ensembles per target, what they were trained on, and the loading of a run folder.

:func:`load_run` reads a folder written by :func:`clapmos.heads.runs.run.save_run` (``fit --out``),
every file that changes predictions checked against the run's record first. A run whose every
target is a linear ensemble (``ridge``) has each one's arrays beside it
(:mod:`clapmos.heads.runs.linear_form`): it predicts with them, and its scikit-learn models are
loaded only when something asks for them (:attr:`FittedRun.models`), so scoring with it imports
neither scikit-learn nor skops. This module imports neither either.

>>> run = load_run("runs/ridge")                                                # doctest: +SKIP
>>> run.predict_features(X)[["overall", "overall_std"]]                         # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clapmos.embed.errors import ClapmosError
from clapmos.embed.filesystems import download_run, is_url
from clapmos.embed.ownership import verify_recorded
from clapmos.embed.store import identity_of
from clapmos.heads.runs.config import RunConfig
from clapmos.heads.runs.frame_heads import frame_identity, with_vectors
from clapmos.heads.runs.linear_form import LinearForm
from clapmos.heads.runs.persistence import load_linear, load_model

if TYPE_CHECKING:
    from clapmos.embed.store import FeatureStore
    from clapmos.heads.runs.ensemble import CVEnsemble

PREDICT_BATCH = 512  # clips read from the store at a time when predicting with frame heads


@dataclass
class FittedRun:
    """The fitted ensembles of a run, per target, with what they were trained on."""

    config: RunConfig
    models: Mapping[str, CVEnsemble]
    provenance: dict[str, Any]
    oof: pd.DataFrame
    linear: dict[str, LinearForm] = field(default_factory=dict)  # per target, a linear ensemble's arrays (when saved with it)

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
        if self.linear and set(self.linear) == set(self.models) and not self.corpora:  # a linear run: its arrays, no model loaded
            for target, form in self.linear.items():
                mean, std = form.predict(X)
                frame[target], frame[f"{target}_std"] = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
            return frame
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


class SavedModels(Mapping):
    """A run folder's ensembles by target, each loaded from its skops file when first asked for."""

    def __init__(self, folder: Path, targets: list[str], heads: list[str]) -> None:
        self.folder, self.heads = folder, heads
        self._loaded: dict[str, Any] = dict.fromkeys(targets)

    def __getitem__(self, target: str) -> CVEnsemble:
        if target not in self._loaded:
            raise KeyError(target)
        if self._loaded[target] is None:
            self._loaded[target] = load_model(self.folder / "model" / target, heads=self.heads)  # only these heads' types are trusted
        return self._loaded[target]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded)

    def __len__(self) -> int:
        return len(self._loaded)


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
    linear = {t: form for t in targets if (form := load_linear(folder / "model" / t)) is not None}  # every model file's sha256 checked
    if len(linear) == len(targets) and not config.corpora:  # predicted from the arrays: the models are loaded only if asked for
        models: Mapping[str, Any] = SavedModels(folder, targets, config.heads)
    else:
        linear, models = {}, {t: load_model(folder / "model" / t, heads=config.heads) for t in targets}  # only these heads' types are trusted
    oof = pd.read_csv(folder / "oof_predictions.csv", dtype={"id": str, "system": str}, keep_default_na=False, na_values=[""]) if (folder / "oof_predictions.csv").is_file() else pd.DataFrame()
    return FittedRun(config, models, provenance, oof, linear)
