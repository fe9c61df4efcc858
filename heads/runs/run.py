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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn

from clapmos.embed.errors import ClapmosError
from clapmos.embed.filesystems import download_run, is_url
from clapmos.embed.store import FeatureStore, identity_of
from clapmos.heads.runs.ensemble import CVEnsemble
from clapmos.heads.inputs.frame_inputs import check_frame_heads, frame_identity, reads_frames, with_vectors
from clapmos.heads.runs.persistence import load_model, save_model
from clapmos.heads.inputs.comparisons import comparison_arrays
from clapmos.heads.inputs.ratings import listener_matrices
from clapmos.heads.registry import HEAD_NAMES, default_blocks, head_spec, member_head
from clapmos.embed.ownership import verify_recorded
from clapmos.heads.runs.folder import writing_run_folder
from clapmos.heads.runs.members import member_params, member_pipelines
from clapmos.heads.runs.store_match import check_same_features, shared_clips
from clapmos.heads.runs.validation import check_run_config

log = logging.getLogger(__name__)
GROUPINGS = ("none", "system", "prompt")
PREDICT_BATCH = 512  # clips read from the store at a time when predicting with frame heads


@dataclass
class RunConfig:
    """Everything ``fit`` needs besides the store; saved as ``config.json``.

    ``embedders`` names one embedder or several, whose features are used side by side
    (each embedder's feature blocks, one after the other). ``heads`` are member names:
    a head, or ``head:tag`` for another member of the same head with its own settings
    (``svr:a``, ``svr:b``). ``features`` is one list of blocks for every target, or a
    ``{target: blocks}`` mapping. ``cv`` 1 trains one model per head on the whole training
    split (a published single-model protocol; no out-of-fold scores). ``params`` keys are ``name`` (every member),
    ``head.name`` (every member of that head) or ``head:tag.name`` (one member), the
    more specific winning. ``stack_method`` and ``clip`` are the
    :class:`~clapmos.heads.runs.ensemble.CVEnsemble` options; ``recipe`` records the recipe the
    configuration came from (:mod:`clapmos.heads.runs.recipes`). ``device`` is where the torch heads
    train (``None``: each head's own setting). ``head_targets`` limits members to some targets
    (``{"xattn": ["textual"]}``: a recipe whose branches differ per target). ``pretrain_store`` is a store of unrated pairs embedded
    like the training store: the torch members are first trained on its clips' pseudo-labels, the
    cosine of ``pretrain_embedder``'s audio and text (default: the first embedder with text), and start
    from that network (:mod:`clapmos.heads.runs.pretraining`). ``corpora`` makes a run of several stores
    (:mod:`clapmos.heads.runs.corpora`): per corpus label, reference first, its store and the name of each
    run target in it.
    """

    embedders: list[str]
    heads: list[str] = field(default_factory=lambda: ["spo_mlp"])
    targets: list[str] | None = None
    features: list[str] | dict[str, list[str]] | None = None
    train_split: list[str] = field(default_factory=lambda: ["train"])
    eval_split: list[str] | None = None
    cv: int = 5
    group: str = "none"
    seeds: int = 1
    stack: bool = True
    screening_tau: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    random_state: int = 0
    stack_method: str = "ridge"
    clip: list[float] | None = None
    recipe: str | None = None
    device: str | None = None
    head_targets: dict[str, list[str]] | None = None

    def members(self, target: str) -> list[str]:
        """The members fitted for ``target``: every head, unless ``head_targets`` limits a member to some targets."""
        limits = self.head_targets or {}
        return [head for head in self.heads if head not in limits or target in limits[head]]
    pretrain_store: str | None = None
    pretrain_embedder: str | None = None
    corpora: dict[str, dict] | None = None

    def blocks(self, target: str) -> list[str] | None:
        """The feature blocks asked for ``target`` (``None``: the head's defaults)."""
        if isinstance(self.features, dict):
            return self.features.get(target)
        return self.features

    def check(self, store: FeatureStore) -> None:
        """Refuse, with one readable message, settings that do not fit this store."""
        unknown = [h for h in self.heads if member_head(h) not in HEAD_NAMES]
        if unknown or not self.heads:
            raise ClapmosError(f"--head {','.join(self.heads)}: unknown head(s) {', '.join(unknown)}; choose from {', '.join(HEAD_NAMES)}")
        if len(set(self.heads)) != len(self.heads):
            raise ClapmosError(f"--head {','.join(self.heads)}: name each member once; "
                               "a second member of one head needs a tag: svr:a,svr:b")
        self._check_ensemble_options()
        self._check_head_targets(self.targets or store.targets)
        if self.group not in GROUPINGS:
            raise ClapmosError(f"--group must be one of {', '.join(GROUPINGS)}, got {self.group!r}")
        missing = [t for t in self.targets or [] if t not in store.targets]
        if missing:
            raise ClapmosError(f"--target {', '.join(missing)}: {store.path} has no such target; its targets are {', '.join(store.targets)}")
        store.rows(self.train_split)  # names unknown splits
        if self.eval_split:
            store.rows(self.eval_split)
        if not self.embedders or len(set(self.embedders)) != len(self.embedders):
            raise ClapmosError(f"--embedder must name one or more different embedders, got {','.join(self.embedders) or 'none'}")
        layout = store.layout(self.embedders)  # names a missing embedder
        self._check_features(self.targets or store.targets)
        self._check_text(layout, self.targets or store.targets)
        check_frame_heads(store, [member_head(h) for h in self.heads], self.embedders, layout)
        if self.device is not None:
            from clapmos.embed.devices import resolve_device

            resolve_device(self.device, option="--device")
        if self.pretrain_store:
            _check_pretraining(self, store)
        if self.corpora:
            _check_corpora_heads(self)
        check_run_config(self, store)  # option values and model parameters, through the estimators' own checks

    def _check_ensemble_options(self) -> None:
        if self.stack_method not in ("ridge", "nnls"):
            raise ClapmosError(f"--stack-method must be ridge or nnls, got {self.stack_method!r}")
        if self.clip is not None:
            clip = list(self.clip)
            if len(clip) != 2 or not all(isinstance(v, (int, float)) and np.isfinite(v) for v in clip) or clip[0] >= clip[1]:
                raise ClapmosError(f"--clip must be LOW,HIGH with LOW < HIGH, e.g. --clip 0,10; got {self.clip!r}")

    def _check_head_targets(self, targets: list[str]) -> None:
        strays = [member for member in self.head_targets or {} if member not in self.heads]
        if strays:
            raise ClapmosError(f"head_targets names {', '.join(strays)}, not a member of --head {','.join(self.heads)}")
        empty = [target for target in targets if not self.members(target)]
        if empty:
            raise ClapmosError(
                f"target(s) {', '.join(empty)}: none of --head {','.join(self.heads)} is fitted for it "
                f"(head_targets {self.head_targets}); add a head, or leave the target out with --target"
            )

    def _check_features(self, targets: list[str]) -> None:
        from clapmos.heads.inputs.features import BLOCK_ORDER

        if isinstance(self.features, dict):
            missing = [t for t in targets if t not in self.features]
            if missing:
                raise ClapmosError(
                    f"--features names blocks for {', '.join(self.features)} but not for target(s) {', '.join(missing)}; "
                    f"add {missing[0]}=BLOCKS, or give one list for every target"
                )
        lists = list(self.features.values()) if isinstance(self.features, dict) else [self.features or ["audio"]]
        unknown = sorted({block for blocks in lists for block in blocks} - set(BLOCK_ORDER))
        if unknown or not all(lists):
            raise ClapmosError(f"--features: unknown or empty block(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(BLOCK_ORDER)}")

    def _check_text(self, layout, targets: list[str]) -> None:
        """Refuse heads and feature blocks that need text when every embedder is audio-only."""
        if any(text_dim for _, _, text_dim in layout):
            return
        names = ", ".join(name for name, _, _ in layout)
        problem = f"but {names} has no text embeddings (audio-only). Add an embedder with text (--embedder {','.join([*self.embedders, 'clap'])})"
        for head in self.heads:
            spec = head_spec(member_head(head))
            if not spec.reads_blocks and (spec.inputs == "vectors" or spec.needs_text):
                raise ClapmosError(f"--head {head} compares audio with text, {problem}.")
        for target in targets:
            needs = self.text_blocks(target)
            if needs:
                raise ClapmosError(f"target {target!r}: feature blocks {', '.join(needs)} need text, {problem} or use --features audio.")

    def text_blocks(self, target: str) -> list[str]:
        """The feature blocks of ``target`` that read the text embedding (none: an audio-only target)."""
        return [block for block in (self.blocks(target) or default_blocks(target)) if block != "audio"]

    @property
    def reads_frames(self) -> bool:
        """Whether a member reads frame tokens (``attn_mlp``, ``xattn``): then every member is given the frames."""
        return reads_frames([member_head(h) for h in self.heads])

    def needs_text(self, target: str) -> bool:
        """Whether predicting ``target`` reads a clip's text (a text feature block, or a head that compares audio with text)."""
        return bool(self.text_blocks(target)) or any(_reads_text(head_spec(member_head(head))) for head in self.members(target))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        """A configuration from ``config.json`` (runs saved before several embedders named one ``embedder``)."""
        values = dict(values)
        values.pop("model_seeds", None)  # recorded for the reader, not a setting
        if "embedder" in values:
            values["embedders"] = [values.pop("embedder")]
        return cls(**values)


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
    pretraining = _pseudo_labelled(store, config)
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
        provenance["pretrain"] = {"store": str(config.pretrain_store), "embedder": _pretrain_embedder(store, config), "pairs": len(pretraining[1]),
                                  "clips_shared": pretrain_overlap(store, config)}
    if config.reads_frames:
        provenance["frames"] = {config.embedders[0]: store.frame_attrs(config.embedders[0])}
    return FittedRun(config, models, provenance, oof)




def reads_corpus(head: str) -> bool:
    """Whether ``head``'s model takes each row's corpus label in ``fit`` and ``predict`` (``aligned``)."""
    import inspect

    model = head_spec(member_head(head)).build()
    return "corpus" in inspect.signature(model.fit).parameters and "corpus" in inspect.signature(model.predict).parameters


def _check_corpora_heads(config: RunConfig) -> None:
    """A run of several corpora: every member aligns the corpora's scales; no pretraining store."""
    pooling = [h for h in config.heads if not reads_corpus(h)]
    if pooling:
        raise ClapmosError(f"several --store: --head {', '.join(pooling)} would pool the corpora's scales as if they were one; a run of "
                           "several corpora fits the head that learns a map per corpus: --head aligned (the default with several --store)")
    if config.pretrain_store:
        raise ClapmosError("--pretrain-store with several --store is not supported; pretrain with one store")


def _pretrain_embedder(store: FeatureStore, config: RunConfig) -> str:
    if config.pretrain_embedder:
        return config.pretrain_embedder
    with_text = [name for name, _, text in store.layout(config.embedders) if text]
    if not with_text:
        raise ClapmosError(f"--pretrain-store: pseudo-labels compare audio with text, but {', '.join(config.embedders)} are audio-only; "
                           "add a CLAP embedder and name it with --pretrain-embedder")
    return with_text[0]


def _check_pretraining(config: RunConfig, store: FeatureStore) -> None:
    """Refuse a pretraining store or embedder that cannot serve this run, naming the option."""
    if config.pretrain_embedder is not None:
        if config.pretrain_embedder not in store.embedders:
            raise ClapmosError(f"--pretrain-embedder {config.pretrain_embedder}: {store.path} has no such embedder; it has {', '.join(store.embedders)}")
        if not dict((n, t) for n, _, t in store.layout([config.pretrain_embedder]))[config.pretrain_embedder]:
            raise ClapmosError(f"--pretrain-embedder {config.pretrain_embedder}: it is audio-only; the pseudo-label is an audio-text cosine, choose a CLAP embedder")
    if config.reads_frames:
        raise ClapmosError("--pretrain-store pretrains the clip-vector torch heads; the frame heads (attn_mlp, xattn) cannot start from it")
    _pseudo_labelled(store, config, check_only=True)


def _pseudo_labelled(store: FeatureStore, config: RunConfig, check_only: bool = False):
    """``(X, pseudo-labels)`` of the pretraining store's pairs, or ``None`` without ``pretrain_store``."""
    if not config.pretrain_store:
        return None
    from clapmos.heads.runs.pretraining import store_similarity_labels

    try:
        unrated = FeatureStore.open(config.pretrain_store)
    except ClapmosError as error:
        raise ClapmosError(f"--pretrain-store {error}") from None
    embedder = _pretrain_embedder(store, config)
    check_same_features(store, unrated, list(dict.fromkeys([*config.embedders, embedder])), "--store", "--pretrain-store")
    if check_only:
        return None
    X, _ = unrated.stacked(config.embedders)
    return X, store_similarity_labels(unrated, embedder)


def pretrain_overlap(store: FeatureStore, config: RunConfig) -> dict[str, int]:
    """Per split of the run (training and evaluation), how many pretraining pairs are clips of it.

    Recorded, not refused: a pseudo-label is computed from the clip's own embeddings (what the
    model reads at test time anyway), so pretraining on an evaluation clip sees none of its ratings.
    """
    unrated = FeatureStore.open(config.pretrain_store)
    return {split: shared_clips(store, unrated, config.embedders[0], split) for split in [*config.train_split, *(config.eval_split or [])]}


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


def _reads_text(spec) -> bool:
    """Whether a head compares audio with text by itself (not through feature blocks)."""
    return not spec.reads_blocks and (spec.inputs == "vectors" or spec.needs_text)


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
