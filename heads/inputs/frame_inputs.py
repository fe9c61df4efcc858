"""Frame inputs beside clip vectors: one ``Frames`` container feeds frame heads and clip-vector heads alike.

A run that stacks a frame head (``attn_mlp``) with a clip-vector head (``ridge``) gives
every member the same input: a :class:`~clapmos.embed.store.frames.Frames` container that also
carries the clips' clip-level matrix (``Frames.vectors``). The clip-vector heads read
it through :class:`ClipVectors`, the first step of their pipelines in such a run.

>>> from clapmos.embed.store.frames import Frames
>>> frames = Frames.from_list([np.ones((2, 3)), np.ones((4, 3))], vectors=np.eye(2))
>>> ClipVectors().fit_transform(frames).tolist()
[[1.0, 0.0], [0.0, 1.0]]
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from clapmos.embed.store.frames import Frames


class ClipVectors(TransformerMixin, BaseEstimator):
    """The clip-level matrix of a :class:`~clapmos.embed.store.frames.Frames` input (``X.vectors``); a matrix passes through unchanged."""

    def fit(self, X, y=None):
        """Nothing to learn."""
        return self

    def transform(self, X):
        """``X.vectors`` (in float64, so that predicting in batches from the store repeats the numbers) for ``Frames``; ``X`` otherwise."""
        if not isinstance(X, Frames):
            return X
        if X.vectors is None:
            raise ValueError("these Frames carry no clip-level matrix (Frames.vectors) for a clip-vector head")
        return np.asarray(X.vectors, dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


def attention_of(model, X) -> list[np.ndarray] | None:
    """Per clip attention weights of a fitted frame head (or a pipeline ending in one); ``None`` for other models."""
    steps = model.steps if hasattr(model, "steps") else [("model", model)]
    final = steps[-1][1]
    if not hasattr(final, "attention"):
        return None
    for _, step in steps[:-1]:
        X = step.transform(X)
    return final.attention(X)


# ---------------------------------------------------------------------- runs on a store
def reads_frames(heads: list[str]) -> bool:
    """Whether any of ``heads`` reads frame tokens."""
    from clapmos.heads.registry import head_spec

    return any(head_spec(h).inputs == "frames" for h in heads)


def check_frame_heads(store, heads: list[str], embedders: list[str], layout) -> None:
    """Refuse frame heads the store cannot serve: several embedders, no frames, or no text for ``xattn``."""
    from clapmos.embed.errors import ClapmosError
    from clapmos.heads.registry import head_spec

    frame_heads = [h for h in heads if head_spec(h).inputs == "frames"]
    if not frame_heads:
        return
    if len(embedders) != 1:
        raise ClapmosError(
            f"--head {','.join(frame_heads)} reads one embedder's frame tokens; got --embedder {','.join(embedders)}. "
            "Fit frame heads with one embedder."
        )
    embedder = embedders[0]
    if not store.has_frames(embedder):
        raise ClapmosError(f"--head {frame_heads[0]} reads frame tokens, but {store.path} has none of {embedder!r}. {store.frames_hint(embedder)}")
    for head in frame_heads:
        if head_spec(head).needs_text and not layout[0][2]:
            raise ClapmosError(f"--head {head} queries the frames with the prompt's text vector, but {embedder} has no text embeddings (audio-only).")


def with_vectors(frames: Frames, vectors: np.ndarray | None) -> Frames:
    """``frames`` carrying the clips' clip-level matrix too (for clip-vector heads beside frame heads)."""
    from dataclasses import replace

    return replace(frames, vectors=vectors)


def frame_identity(attrs: dict) -> dict:
    """The attributes that make stored frame tokens interchangeable for a model (width, rate, what a token is)."""
    from clapmos.embed.store.frame_store import FRAME_IDENTITY_ATTRS

    return {k: attrs.get(k) for k in FRAME_IDENTITY_ATTRS}
