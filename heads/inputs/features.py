"""Model inputs built from embedding matrices (audio | text per item, per embedder).

Every head reads the same input: ``X = hstack(audio, text)``, one row per item, as
returned by ``FeatureStore.paired`` — or, from several embedders, their pairs side by
side with a *layout* naming the segments (``FeatureStore.stacked``).
:class:`PairedEmbeddingFeatures` splits X into its parts and builds the blocks a head
asks for, per embedder, always in the order of :data:`BLOCK_ORDER` whatever order they
were requested in:

``audio``    the audio embedding
``text``     the text embedding
``product``  audio * text, element-wise
``absdiff``  abs(audio - text), element-wise
``cosine``   one column, the cosine of audio and text (0 where either is all zeros)
``angular``  one column, the angular similarity 1 - arccos(cos) / π
``l1``       one column, the L1 distance of the unit-normalised vectors / its training maximum
``l2``       one column, the L2 distance of the unit-normalised vectors / its training maximum

The last four are the XACLE second place's "proximity" features (:mod:`clapmos.heads.inputs.proximity`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted, validate_data

from clapmos.heads.inputs.proximity import PROXIMITY_BLOCKS, distance_maxima, proximity

BLOCK_ORDER = ("audio", "text", "product", "absdiff", "cosine", "angular", "l1", "l2")
_ELEMENTWISE = {"product", "absdiff", *PROXIMITY_BLOCKS}


def split_halves(X: np.ndarray, audio_dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split a paired matrix into its audio and text parts.

    ``audio_dim=None`` splits in the middle, which needs an even number of columns.

    >>> a, t = split_halves(np.arange(8.0).reshape(2, 4))
    >>> a.tolist(), t.tolist()
    ([[0.0, 1.0], [4.0, 5.0]], [[2.0, 3.0], [6.0, 7.0]])
    """
    n_features = X.shape[1]
    if audio_dim is None:
        if n_features % 2:
            raise ValueError(
                f"a paired embedding matrix (audio | text) needs an even number of features to be split in "
                f"half, got {n_features} feature(s); pass audio_dim to split it elsewhere"
            )
        audio_dim = n_features // 2
    if not 0 < audio_dim < n_features:
        raise ValueError(f"audio_dim={audio_dim} must lie strictly between 0 and the {n_features} feature(s) of X")
    return X[:, :audio_dim], X[:, audio_dim:]


def paired_cosine(X: np.ndarray, audio_dim: int | None = None) -> np.ndarray:
    """Cosine of the audio and text halves of every row (0 where either half is all zeros).

    >>> paired_cosine(np.array([[1.0, 0.0, 1.0, 1.0]])).round(4).tolist()
    [0.7071]
    """
    audio, text = split_halves(X, audio_dim)
    if audio.shape[1] != text.shape[1]:
        raise ValueError(f"the cosine needs audio and text of one size, got {audio.shape[1]} and {text.shape[1]}")
    return _cosine(audio, text)


Layout = tuple[tuple[str, int, int], ...]
_NEEDS_TEXT = {"text", "product", "absdiff", *PROXIMITY_BLOCKS}


def resolve_layout(n_features: int, audio_dim: int | None = None, layout=None) -> Layout:
    """The ``(embedder, audio_dim, text_dim)`` segments of a matrix of ``n_features`` columns.

    Without ``layout``, the matrix is one audio | text pair split at ``audio_dim`` (the
    middle when ``None``).

    >>> resolve_layout(6, layout=[("clap", 2, 2), ("whisper", 2, 0)])
    (('clap', 2, 2), ('whisper', 2, 0))
    >>> resolve_layout(6)
    (('', 3, 3),)
    """
    if layout is None:
        audio, _ = split_halves(np.empty((0, n_features)), audio_dim)
        return (("", audio.shape[1], n_features - audio.shape[1]),)
    segments = tuple((str(name), int(a), int(t)) for name, a, t in layout)
    if not segments or any(a < 1 or t < 0 for _, a, t in segments):
        raise ValueError(f"layout must be non-empty (embedder, audio_dim >= 1, text_dim >= 0) segments, got {layout}")
    width = sum(a + t for _, a, t in segments)
    if width != n_features:
        raise ValueError(f"layout {segments} describes {width} columns but X has {n_features} feature(s)")
    return segments


def layout_segments(X: np.ndarray, layout: Layout):
    """Yield ``(name, audio, text)`` column views of X, one per segment of ``layout``."""
    start = 0
    for name, audio_dim, text_dim in layout:
        yield name, X[:, start : start + audio_dim], X[:, start + audio_dim : start + audio_dim + text_dim]
        start += audio_dim + text_dim


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
        _ordered_blocks(self.blocks)
        if self.embedders is not None and not all(isinstance(name, str) for name in
                                                  ([self.embedders] if isinstance(self.embedders, str) else self.embedders)):
            raise ValueError(f"embedders must be None or embedder names, got {self.embedders!r}")

    def fit(self, X, y=None):
        """Check the blocks against the width and layout of X; learn the distance maxima of ``l1`` and ``l2``."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self._check_parameters()
        self.blocks_ = _ordered_blocks(self.blocks)
        self.layout_ = resolve_layout(X.shape[1], self.audio_dim, self.layout)
        self.audio_dim_ = self.layout_[0][1]
        self._check_embedders()
        with_text = [segment for segment in self.layout_ if segment[2] > 0 and self._reads(segment[0])]
        needs_text = sorted(_NEEDS_TEXT.intersection(self.blocks_))
        if needs_text and not with_text:
            names = ", ".join(name or "the embedder" for name, _, _ in self.layout_)
            raise ValueError(f"blocks {needs_text} need text embeddings, but {names} have none (audio-only)")
        needs_equal = sorted(_ELEMENTWISE.intersection(self.blocks_))
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
        if self.embedders is None:
            return True
        return name in ([self.embedders] if isinstance(self.embedders, str) else list(self.embedders))

    def transform(self, X):
        """The requested blocks side by side: per embedder, in :data:`BLOCK_ORDER`."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        parts = []
        maxima = getattr(self, "distance_maxima_", None) or ((1.0, 1.0),) * len(self._layout())
        for (name, audio, text), segment_maxima in zip(layout_segments(X, self._layout()), maxima):
            if not self._reads(name):
                continue
            if self.unit_norm:
                audio, text = normalize(audio), normalize(text) if text.shape[1] else text
            build = {
                "audio": lambda: audio,
                "text": lambda: text,
                "product": lambda: audio * text,
                "absdiff": lambda: np.abs(audio - text),
                **{block: (lambda block=block: proximity(audio, text, block, segment_maxima).astype(X.dtype)) for block in PROXIMITY_BLOCKS},
            }
            parts += [build[block]() for block in self.blocks_ if text.shape[1] or block not in _NEEDS_TEXT]
        return np.hstack(parts)

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
                if text_dim or block not in _NEEDS_TEXT:
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


def _cosine(audio: np.ndarray, text: np.ndarray) -> np.ndarray:
    return proximity(audio, text, "cosine")[:, 0]


def _ordered_blocks(blocks: Sequence[str]) -> tuple[str, ...]:
    if isinstance(blocks, str):
        blocks = (blocks,)
    unknown = sorted(set(blocks) - set(BLOCK_ORDER))
    if unknown or not blocks:
        raise ValueError(f"blocks must be a non-empty selection of {list(BLOCK_ORDER)}, got {list(blocks)}")
    return tuple(block for block in BLOCK_ORDER if block in blocks)
