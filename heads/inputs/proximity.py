"""Proximity features of an audio and a text vector (the XACLE second place, METHODS.md §5).

For every row: the ``cosine`` of the two vectors; the ``angular`` similarity
``1 - arccos(cos) / π`` (1 for the same direction, 0 for opposite ones); and the ``l1``
and ``l2`` distances of the *unit-normalised* vectors, each divided by its maximum.
That maximum is learnt on the training rows (:func:`distance_maxima`, called by
``PairedEmbeddingFeatures.fit``) and reused on any other split, so a held-out row is
scaled exactly like a training row (the published code divided each split by its own
maximum).

>>> a, t = np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 2.0], [1.0, 1.0]])
>>> angular_similarity(a, t).round(6).tolist()
[0.5, 1.0]
>>> unit_distances(a, t, "l2").round(6).tolist()
[1.414214, 0.0]
"""

from __future__ import annotations

import numpy as np

PROXIMITY_BLOCKS = ("cosine", "angular", "l1", "l2")
DISTANCES = ("l1", "l2")


def unit_rows(X: np.ndarray) -> np.ndarray:
    """A copy of ``X`` with every row divided by its L2 norm (rows of norm under 10 machine epsilons left as they are).

    The numbers of ``sklearn.preprocessing.normalize(X)``, bit for bit (``tests/test_heads_features.py``
    compares them), in numpy alone, so that scoring with a linear run imports no scikit-learn.

    >>> unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    X = np.array(X, dtype=X.dtype if X.dtype in (np.float32, np.float64) else np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    norms[norms < 10 * np.finfo(norms.dtype).eps] = 1.0
    X /= norms[:, None]
    return X


def cosine_similarity(audio: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Row-wise cosine of ``audio`` and ``text`` (0 where either row is all zeros)."""
    return np.einsum("ij,ij->i", unit_rows(audio), unit_rows(text))


def angular_similarity(audio: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Row-wise ``1 - arccos(cos) / π`` (the cosine clipped to [-1, 1] first)."""
    return 1.0 - np.arccos(np.clip(cosine_similarity(audio, text), -1.0, 1.0)) / np.pi


def unit_distances(audio: np.ndarray, text: np.ndarray, kind: str) -> np.ndarray:
    """Row-wise L1 (``kind="l1"``) or L2 (``"l2"``) distance of the unit-normalised vectors."""
    difference = unit_rows(audio) - unit_rows(text)
    return np.abs(difference).sum(axis=1) if kind == "l1" else np.sqrt((difference * difference).sum(axis=1))


def distance_maxima(audio: np.ndarray, text: np.ndarray) -> tuple[float, float]:
    """The largest L1 and L2 distance over the rows (1 where there is none, or it is 0), the divisors of :func:`proximity`."""
    maxima = []
    for kind in DISTANCES:
        values = unit_distances(audio, text, kind)
        largest = float(values.max()) if len(values) else 0.0
        maxima.append(largest if largest > 0 else 1.0)
    return maxima[0], maxima[1]


def proximity(audio: np.ndarray, text: np.ndarray, block: str, maxima: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """One proximity block as a column ``(n, 1)``: ``cosine``, ``angular``, or ``l1`` / ``l2`` divided by ``maxima``."""
    if block == "cosine":
        values = cosine_similarity(audio, text)
    elif block == "angular":
        values = angular_similarity(audio, text)
    else:
        values = unit_distances(audio, text, block) / maxima[DISTANCES.index(block)]
    return values[:, None]
