"""A run's configuration (:class:`RunConfig`, saved as ``config.json``) and its checks against a store, made before any work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.frame_heads import check_frame_heads, reads_frames
from clapmos.heads.registry import HEAD_NAMES, default_blocks, head_spec, member_head
from clapmos.heads.runs.pretrain_store import check_pretraining

GROUPINGS = ("none", "system", "prompt")


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
            check_pretraining(self, store)
        if self.corpora:
            _check_corpora_heads(self)
        from clapmos.heads.runs.validation import check_run_config  # scikit-learn: not imported where runs are only used

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
        from clapmos.heads.inputs.blocks import BLOCK_ORDER

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


def _reads_text(spec) -> bool:
    """Whether a head compares audio with text by itself (not through feature blocks)."""
    return not spec.reads_blocks and (spec.inputs == "vectors" or spec.needs_text)
