"""Feature blocks of audio and text embeddings, in numpy alone (no scikit-learn import).

Every head reads the same input: ``X = hstack(audio, text)``, one row per item, as
returned by ``FeatureStore.paired`` — or, from several embedders, their pairs side by
side with a *layout* naming the segments (``FeatureStore.stacked``). :func:`build_blocks`
splits X into its parts and builds the blocks asked for, per embedder, always in the
order of :data:`BLOCK_ORDER`:

``audio``    the audio embedding
``text``     the text embedding
``product``  audio * text, element-wise
``absdiff``  abs(audio - text), element-wise
``cosine``   one column, the cosine of audio and text (0 where either is all zeros)
``angular``  one column, the angular similarity 1 - arccos(cos) / π
``l1``       one column, the L1 distance of the unit-normalised vectors / its training maximum
``l2``       one column, the L2 distance of the unit-normalised vectors / its training maximum

The last four are the XACLE second place's "proximity" features (:mod:`clapmos.heads.inputs.proximity`).
The estimator that learns what the blocks need (the layout, the distance maxima) is
:class:`clapmos.heads.inputs.features.PairedEmbeddingFeatures`; scoring with a saved linear
run (:mod:`clapmos.heads.runs.linear_form`) calls :func:`build_blocks` directly.

>>> X = np.array([[1.0, 0.0, 0.0, 1.0]])
>>> build_blocks(X, resolve_layout(4), ("cosine", "product")).tolist()
[[0.0, 0.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clapmos.heads.inputs.proximity import PROXIMITY_BLOCKS, proximity, unit_rows

BLOCK_ORDER = ("audio", "text", "product", "absdiff", "cosine", "angular", "l1", "l2")
ELEMENTWISE = {"product", "absdiff", *PROXIMITY_BLOCKS}


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
NEEDS_TEXT = {"text", "product", "absdiff", *PROXIMITY_BLOCKS}


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


def reads_embedder(embedders: str | Sequence[str] | None, name: str) -> bool:
    """Whether a head restricted to ``embedders`` (``None``: every one) reads the segment ``name``."""
    if embedders is None:
        return True
    return name in ([embedders] if isinstance(embedders, str) else list(embedders))


def build_blocks(X: np.ndarray, layout: Layout, blocks: Sequence[str], unit_norm: bool = False,
                 embedders: str | Sequence[str] | None = None, maxima: Sequence[tuple[float, float]] | None = None) -> np.ndarray:
    """The ``blocks`` (in :data:`BLOCK_ORDER`) side by side, per segment of ``layout`` that ``embedders`` reads.

    ``unit_norm`` L2-normalises every audio and text vector first; ``maxima`` are the per-segment
    divisors of the ``l1`` and ``l2`` blocks (1 when ``None``). An audio-only segment gives only
    its ``audio`` block.
    """
    ordered = ordered_blocks(blocks)
    maxima = maxima or ((1.0, 1.0),) * len(layout)
    parts = []
    for (name, audio, text), segment_maxima in zip(layout_segments(X, layout), maxima):
        if not reads_embedder(embedders, name):
            continue
        if unit_norm:
            audio, text = unit_rows(audio), unit_rows(text) if text.shape[1] else text
        build = {
            "audio": lambda: audio,
            "text": lambda: text,
            "product": lambda: audio * text,
            "absdiff": lambda: np.abs(audio - text),
            **{block: (lambda block=block: proximity(audio, text, block, segment_maxima).astype(X.dtype)) for block in PROXIMITY_BLOCKS},
        }
        parts += [build[block]() for block in ordered if text.shape[1] or block not in NEEDS_TEXT]
    return np.hstack(parts)


def _cosine(audio: np.ndarray, text: np.ndarray) -> np.ndarray:
    return proximity(audio, text, "cosine")[:, 0]


def ordered_blocks(blocks: Sequence[str]) -> tuple[str, ...]:
    """``blocks`` in :data:`BLOCK_ORDER`; a ``ValueError`` for an unknown or empty selection.

    >>> ordered_blocks(["cosine", "audio"])
    ('audio', 'cosine')
    """
    if isinstance(blocks, str):
        blocks = (blocks,)
    unknown = sorted(set(blocks) - set(BLOCK_ORDER))
    if unknown or not blocks:
        raise ValueError(f"blocks must be a non-empty selection of {list(BLOCK_ORDER)}, got {list(blocks)}")
    return tuple(block for block in BLOCK_ORDER if block in blocks)
