"""Model inputs built from embedding matrices (audio | text per item, per embedder): the estimator.

Every head reads the same input: ``X = hstack(audio, text)``, one row per item, as
returned by ``FeatureStore.paired`` — or, from several embedders, their pairs side by
side with a *layout* naming the segments (``FeatureStore.stacked``).
:class:`PairedEmbeddingFeatures` learns what the blocks need from the training rows (the
layout, the ``l1``/``l2`` divisors) and builds the blocks a head asks for — ``audio``,
``text``, ``product``, ``absdiff``, ``cosine``, ``angular``, ``l1``, ``l2``, described in
:mod:`clapmos.heads.inputs.blocks`, which builds them in numpy alone — per embedder,
always in the order of :data:`BLOCK_ORDER` whatever order they were requested in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

# the blocks themselves are built in numpy alone (a saved linear run scores without scikit-learn); re-exported here
from clapmos.heads.inputs.blocks import (  # noqa: F401
    BLOCK_ORDER, ELEMENTWISE, NEEDS_TEXT, Layout, build_blocks, layout_segments, ordered_blocks, paired_cosine, reads_embedder,
    resolve_layout, split_halves,
)
from clapmos.heads.inputs.proximity import PROXIMITY_BLOCKS, distance_maxima


class PairedEmbeddingFeatures(TransformerMixin, BaseEstimator):
    """Build the blocks a head reads from the audio and text embeddings of one or several embedders.

    Parameters
    ----------
    blocks : sequence of str, default=("audio",)
        Any non-empty combination of ``audio``, ``text``, ``product``, ``absdiff``,
        ``cosine``, ``angular``, ``l1`` and ``l2``; the output always follows
        :data:`BLOCK_ORDER`.
    audio_dim : int or None, default=None
        For one audio | text pair without ``layout``: the number of leading columns
        that hold the audio embedding; ``None`` splits X in half (CLAP: 512 | 512,
        M2D-CLAP: 768 | 768). ``product``, ``absdiff`` and ``cosine`` need both halves
        of one size.
    layout : sequence of (embedder, audio_dim, text_dim) or None, default=None
        X made of several embedders' vectors, side by side (``FeatureStore.stacked``
        returns it). The blocks are built per embedder, embedder after embedder; an
        audio-only embedder (``text_dim`` 0) contributes only its ``audio`` block.
    unit_norm : bool, default=False
        L2-normalise every audio and text vector first (the XACLE 2027 baseline's input).
    embedders : sequence of str or None, default=None
        Read only these embedders of ``layout`` (a head on part of a fused store);
        ``None`` reads every one.

    Attributes
    ----------
    n_features_in_ : int
    layout_ : tuple of (embedder, audio_dim, text_dim)
        The resolved segments of X.
    audio_dim_ : int
        The audio width of the first segment.
    blocks_ : tuple of str
        The requested blocks in output order.
    distance_maxima_ : tuple of (float, float)
        Per segment, the largest L1 and L2 distance of the unit-normalised vectors on
        the training rows (the divisors of the ``l1`` and ``l2`` blocks).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    >>> PairedEmbeddingFeatures(blocks=("cosine", "audio")).fit_transform(X).round(6).tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]

    Two embedders, the second audio-only:

    >>> X = np.array([[1.0, 0.0, 1.0, 0.0, 7.0]])
    >>> f = PairedEmbeddingFeatures(blocks=("audio", "cosine"), layout=[("a", 2, 2), ("b", 1, 0)]).fit(X)
    >>> f.transform(X).tolist(), f.get_feature_names_out().tolist()
    ([[1.0, 0.0, 1.0, 7.0]], ['a.audio_0', 'a.audio_1', 'a.cosine', 'b.audio_0'])
    """

    # the defaults for models saved before these parameters existed
    layout = None
    unit_norm = False
    embedders = None

    def __init__(self, blocks: Sequence[str] = ("audio",), audio_dim: int | None = None, layout=None, unit_norm: bool = False, embedders=None):
        self.blocks = blocks
        self.audio_dim = audio_dim
        self.layout = layout
        self.unit_norm = unit_norm
        self.embedders = embedders

    def _check_parameters(self) -> None:
        """``ValueError`` for parameters that no data could make valid (the rest is checked against X in ``fit``)."""
        ordered_blocks(self.blocks)
        if self.embedders is not None and not all(isinstance(name, str) for name in
                                                  ([self.embedders] if isinstance(self.embedders, str) else self.embedders)):
            raise ValueError(f"embedders must be None or embedder names, got {self.embedders!r}")

    def fit(self, X, y=None):
        """Check the blocks against the width and layout of X; learn the distance maxima of ``l1`` and ``l2``."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self._check_parameters()
        self.blocks_ = ordered_blocks(self.blocks)
        self.layout_ = resolve_layout(X.shape[1], self.audio_dim, self.layout)
        self.audio_dim_ = self.layout_[0][1]
        self._check_embedders()
        with_text = [segment for segment in self.layout_ if segment[2] > 0 and self._reads(segment[0])]
        needs_text = sorted(NEEDS_TEXT.intersection(self.blocks_))
        if needs_text and not with_text:
            names = ", ".join(name or "the embedder" for name, _, _ in self.layout_)
            raise ValueError(f"blocks {needs_text} need text embeddings, but {names} have none (audio-only)")
        needs_equal = sorted(ELEMENTWISE.intersection(self.blocks_))
        for name, audio_dim, text_dim in with_text:
            if needs_equal and audio_dim != text_dim:
                raise ValueError(
                    f"blocks {needs_equal} need audio and text of one size, got {audio_dim} and {text_dim}"
                    + (f" for {name}" if name else "")
                )
        distances = {"l1", "l2"}.intersection(self.blocks_)
        self.distance_maxima_ = tuple(
            distance_maxima(audio, text) if distances and self._reads(name) and text.shape[1] else (1.0, 1.0)
            for name, audio, text in layout_segments(X, self.layout_)
        )
        return self

    def _check_embedders(self) -> None:
        if self.embedders is None:
            return
        names = [self.embedders] if isinstance(self.embedders, str) else list(self.embedders)
        unknown = [name for name in names if name not in {segment[0] for segment in self.layout_}]
        if not names or unknown:
            have = ", ".join(segment[0] for segment in self.layout_)
            raise ValueError(f"embedders must name some of the layout's embedders ({have}), got {self.embedders!r}")

    def _reads(self, name: str) -> bool:
        return reads_embedder(self.embedders, name)

    def transform(self, X):
        """The requested blocks side by side: per embedder, in :data:`BLOCK_ORDER`."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return build_blocks(X, self._layout(), self.blocks_, self.unit_norm, self.embedders, getattr(self, "distance_maxima_", None))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names like ``audio_0``, ``text_511``, ``product_3``, ``cosine`` (``clap.audio_0`` with several embedders)."""
        check_is_fitted(self)
        layout = self._layout()
        names = []
        for name, audio_dim, text_dim in layout:
            if not self._reads(name):
                continue
            prefix = f"{name}." if len(layout) > 1 else ""
            sizes = {"audio": audio_dim, "text": text_dim, "product": text_dim, "absdiff": text_dim}
            for block in self.blocks_:
                if text_dim or block not in NEEDS_TEXT:
                    names += [f"{prefix}{block}"] if block in PROXIMITY_BLOCKS else [f"{prefix}{block}_{i}" for i in range(sizes[block])]
        return np.asarray(names, dtype=object)

    def _layout(self) -> Layout:
        # models saved before layouts existed hold only audio_dim_
        if hasattr(self, "layout_"):
            return self.layout_
        return (("", self.audio_dim_, self.n_features_in_ - self.audio_dim_),)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
