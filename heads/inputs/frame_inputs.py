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
