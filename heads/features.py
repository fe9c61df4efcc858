"""Model inputs built from a paired embedding matrix (audio | text per item).

Every head reads the same input: ``X = hstack(audio, text)``, one row per item, as
returned by ``FeatureStore.paired``. :class:`PairedEmbeddingFeatures` splits it into
its halves and builds the blocks a head asks for, always in the order of
:data:`BLOCK_ORDER` whatever order they were requested in:

``audio``    the audio embedding
``text``     the text embedding
``product``  audio * text, element-wise
``absdiff``  abs(audio - text), element-wise
``cosine``   one column, the cosine of audio and text (0 where either is all zeros)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted, validate_data

BLOCK_ORDER = ("audio", "text", "product", "absdiff", "cosine")
_ELEMENTWISE = {"product", "absdiff", "cosine"}


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
    return np.einsum("ij,ij->i", normalize(audio), normalize(text))


class PairedEmbeddingFeatures(TransformerMixin, BaseEstimator):
    """Build the blocks a head reads from a paired (audio | text) embedding matrix.

    Parameters
    ----------
    blocks : sequence of str, default=("audio",)
        Any non-empty combination of ``audio``, ``text``, ``product``, ``absdiff``
        and ``cosine``; the output always follows :data:`BLOCK_ORDER`.
    audio_dim : int or None, default=None
        Number of leading columns that hold the audio embedding; ``None`` splits X in
        half (CLAP: 512 | 512, M2D-CLAP: 768 | 768). ``product``, ``absdiff`` and
        ``cosine`` need both halves of one size.

    Attributes
    ----------
    n_features_in_ : int
    audio_dim_ : int
        The resolved split point.
    blocks_ : tuple of str
        The requested blocks in output order.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    >>> PairedEmbeddingFeatures(blocks=("cosine", "audio")).fit_transform(X).round(6).tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, blocks: Sequence[str] = ("audio",), audio_dim: int | None = None):
        self.blocks = blocks
        self.audio_dim = audio_dim

    def fit(self, X, y=None):
        """Check the blocks against the width of X."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.blocks_ = _ordered_blocks(self.blocks)
        audio, text = split_halves(X, self.audio_dim)
        self.audio_dim_ = audio.shape[1]
        needs_equal = _ELEMENTWISE.intersection(self.blocks_)
        if needs_equal and audio.shape[1] != text.shape[1]:
            raise ValueError(
                f"blocks {sorted(needs_equal)} need audio and text of one size, got {audio.shape[1]} and {text.shape[1]}"
            )
        return self

    def transform(self, X):
        """The requested blocks side by side, in :data:`BLOCK_ORDER`."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        audio, text = split_halves(X, self.audio_dim_)
        build = {
            "audio": lambda: audio,
            "text": lambda: text,
            "product": lambda: audio * text,
            "absdiff": lambda: np.abs(audio - text),
            "cosine": lambda: paired_cosine(X, self.audio_dim_)[:, None].astype(X.dtype),
        }
        return np.hstack([build[block]() for block in self.blocks_])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names like ``audio_0``, ``text_511``, ``product_3``, ``cosine``."""
        check_is_fitted(self)
        n_text = self.n_features_in_ - self.audio_dim_
        sizes = {"audio": self.audio_dim_, "text": n_text, "product": n_text, "absdiff": n_text}
        names = []
        for block in self.blocks_:
            names += ["cosine"] if block == "cosine" else [f"{block}_{i}" for i in range(sizes[block])]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _ordered_blocks(blocks: Sequence[str]) -> tuple[str, ...]:
    if isinstance(blocks, str):
        blocks = (blocks,)
    unknown = sorted(set(blocks) - set(BLOCK_ORDER))
    if unknown or not blocks:
        raise ValueError(f"blocks must be a non-empty selection of {list(BLOCK_ORDER)}, got {list(blocks)}")
    return tuple(block for block in BLOCK_ORDER if block in blocks)
