"""The unrated store a run pretrains on (``fit --pretrain-store``): its checks, its pseudo-labelled rows, its overlap with the run's splits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.store_match import check_same_features, shared_clips

if TYPE_CHECKING:
    from clapmos.heads.runs.config import RunConfig


def pretrain_embedder_of(store: FeatureStore, config: RunConfig) -> str:
    if config.pretrain_embedder:
        return config.pretrain_embedder
    with_text = [name for name, _, text in store.layout(config.embedders) if text]
    if not with_text:
        raise ClapmosError(f"--pretrain-store: pseudo-labels compare audio with text, but {', '.join(config.embedders)} are audio-only; "
                           "add a CLAP embedder and name it with --pretrain-embedder")
    return with_text[0]


def check_pretraining(config: RunConfig, store: FeatureStore) -> None:
    """Refuse a pretraining store or embedder that cannot serve this run, naming the option."""
    if config.pretrain_embedder is not None:
        if config.pretrain_embedder not in store.embedders:
            raise ClapmosError(f"--pretrain-embedder {config.pretrain_embedder}: {store.path} has no such embedder; it has {', '.join(store.embedders)}")
        if not dict((n, t) for n, _, t in store.layout([config.pretrain_embedder]))[config.pretrain_embedder]:
            raise ClapmosError(f"--pretrain-embedder {config.pretrain_embedder}: it is audio-only; the pseudo-label is an audio-text cosine, choose a CLAP embedder")
    if config.reads_frames:
        raise ClapmosError("--pretrain-store pretrains the clip-vector torch heads; the frame heads (attn_mlp, xattn) cannot start from it")
    pseudo_labelled(store, config, check_only=True)


def pseudo_labelled(store: FeatureStore, config: RunConfig, check_only: bool = False):
    """``(X, pseudo-labels)`` of the pretraining store's pairs, or ``None`` without ``pretrain_store``."""
    if not config.pretrain_store:
        return None
    from clapmos.heads.runs.pretraining import store_similarity_labels

    try:
        unrated = FeatureStore.open(config.pretrain_store)
    except ClapmosError as error:
        raise ClapmosError(f"--pretrain-store {error}") from None
    embedder = pretrain_embedder_of(store, config)
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
