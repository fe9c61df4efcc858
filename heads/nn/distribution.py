"""Scores as distributions over K bins, and as K - 1 ordinal thresholds (METHODS.md §5, AudioMOS winner).

Plain functions, usable by any torch head (the ``dist`` and ``coral`` heads, attention
heads over frames):

* :func:`bin_centers` — K centres spanning a score range, ``linspace(low, high, K)``;
  :func:`score_bins` — those of every output, over a given range or the training scores';
* :func:`gaussian_targets` — the target distribution of a score ``s`` (clamped to the
  range): ``p_k ∝ exp(-(s - c_k)² / (2σ²))``, normalised; ``σ = 0`` is one-hot on the
  nearest bin;
* :func:`kl_divergence` — ``KL(p ‖ q)`` from the model's logits, averaged over the batch;
* :func:`bin_probabilities` — ``q = softmax`` of flat logits ``(n, n_outputs · K)``, per output;
* :func:`distribution_mean`, :func:`distribution_std` — ``Σ q_k c_k`` and the spread;
* :func:`coral_targets`, :func:`coral_loss`, :func:`coral_decode` — CORAL: the binary
  tasks "s > t_k" for the K - 1 thresholds halfway between centres, the sum of their
  binary cross-entropies, and the expected rank ``Σ sigmoid(logit_k)`` mapped back to the
  score scale.

Tensors carry the bins on the last axis: logits ``(batch, n_outputs, K)``, centres
``(n_outputs, K)``.

>>> centers = bin_centers(1.0, 5.0, 5)
>>> centers.tolist()
[1.0, 2.0, 3.0, 4.0, 5.0]
>>> gaussian_targets(np.array([2.0]), centers, sigma=0.0).tolist()
[[0.0, 1.0, 0.0, 0.0, 0.0]]
>>> coral_targets(np.array([2.0, 4.6]), centers).astype(int).tolist()
[[1, 0, 0, 0], [1, 1, 1, 1]]
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import softmax
from sklearn.utils._param_validation import Interval
from torch.nn import functional as F

#: scikit-learn parameter constraints of the bins' settings (``n_bins``, ``sigma``, ``score_range``);
#: :func:`check_bins` adds what they cannot say.
BIN_CONSTRAINTS: dict[str, list] = {
    "n_bins": [Interval(Integral, 2, 1000, closed="both")],
    "sigma": [Interval(Real, 0, None, closed="left")],
    "score_range": ["array-like", None],
}


def check_bins(n_bins, sigma, score_range) -> None:
    """Raise ``ValueError`` naming ``n_bins``, ``sigma`` or ``score_range`` when out of range."""
    if not (isinstance(n_bins, (int, np.integer)) and not isinstance(n_bins, bool) and 2 <= n_bins <= 1000):
        raise ValueError(f"n_bins must be an integer from 2 to 1000, got {n_bins!r}")
    if sigma is not None and not (isinstance(sigma, (int, float, np.floating)) and np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a number >= 0 (0: one-hot targets), got {sigma!r}")
    if score_range is not None:
        ok = isinstance(score_range, (tuple, list)) and len(score_range) == 2
        try:
            ok = ok and all(np.isfinite(float(v)) for v in score_range) and float(score_range[0]) < float(score_range[1])
        except (TypeError, ValueError):  # null or text in the range
            ok = False
        if not ok:
            raise ValueError(f"score_range must be (low, high) with low < high, got {score_range!r}")


def bin_centers(low: float, high: float, n_bins: int) -> np.ndarray:
    """``n_bins`` evenly spaced centres from ``low`` to ``high`` (both included)."""
    return np.linspace(float(low), float(high), int(n_bins))


def score_bins(Y: np.ndarray, n_bins: int, score_range=None) -> np.ndarray:
    """Bin centres ``(n_outputs, n_bins)`` for scores ``Y`` (n, n_outputs): over ``score_range``, or each column's range.

    A column of one value gets the range ``value ± 0.5``.

    >>> score_bins(np.array([[1.0, 7.0], [3.0, 7.0]]), 3).tolist()
    [[1.0, 2.0, 3.0], [6.5, 7.0, 7.5]]
    >>> score_bins(np.array([[2.0]]), 5, score_range=(1, 5))[0].tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0]
    """
    Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
    centers = []
    for column in Y.T:
        if score_range is not None:
            low, high = float(score_range[0]), float(score_range[1])
        else:
            low, high = float(column.min()), float(column.max())
            low, high = (low - 0.5, high + 0.5) if low == high else (low, high)
        centers.append(bin_centers(low, high, n_bins))
    return np.stack(centers)


def gaussian_targets(scores: np.ndarray, centers: np.ndarray, sigma: float) -> np.ndarray:
    """Target distributions ``(n, K)`` of ``scores`` (n,), clamped to the centres' range.

    >>> p = gaussian_targets(np.array([3.0]), bin_centers(1, 5, 5), sigma=1.0)
    >>> p.round(3).tolist(), round(float(p.sum()), 12)
    ([[0.054, 0.244, 0.403, 0.244, 0.054]], 1.0)
    """
    centers = np.asarray(centers, dtype=float)
    s = np.clip(np.asarray(scores, dtype=float), centers[0], centers[-1])[:, None]
    one_hot = np.zeros((len(s), len(centers)))
    one_hot[np.arange(len(s)), np.abs(s - centers).argmin(axis=1)] = 1.0
    if sigma == 0:
        return one_hot
    with np.errstate(over="ignore"):
        logits = -0.5 * ((s - centers) / sigma) ** 2  # no sigma**2: it over- or underflows for extreme sigma
    finite = np.isfinite(logits.max(axis=1))  # a sigma so small that every bin underflows: the one-hot limit
    targets = one_hot
    targets[finite] = softmax(logits[finite], axis=1)
    return targets


#: What a distribution head trains on: a Gaussian around each clip's score, or the histogram of its ratings.
DISTRIBUTION_TARGETS = ("gaussian", "histogram")


def rating_histograms(ratings: np.ndarray, centers: np.ndarray, sigma: float, fallback: np.ndarray) -> np.ndarray:
    """Per clip, the mean of :func:`gaussian_targets` of each of its ratings: its listeners' histogram, smoothed by ``sigma``.

    ``ratings`` is (n, k), NaN-padded; a clip without ratings gets the target of its
    ``fallback`` score (n,) (the Gaussian around its mean). ``sigma=0`` is the plain histogram.

    >>> rating_histograms(np.array([[1.0, 3.0, 3.0, np.nan], [np.nan] * 4]), bin_centers(1, 3, 3), 0.0, np.array([2.0, 2.0])).round(3).tolist()
    [[0.333, 0.0, 0.667], [0.0, 1.0, 0.0]]
    """
    ratings = np.asarray(ratings, dtype=float).reshape(len(ratings), -1)
    known = ~np.isnan(ratings)
    targets = gaussian_targets(np.nan_to_num(ratings).ravel(), centers, sigma).reshape(*ratings.shape, len(centers))
    counts = known.sum(axis=1)
    histograms = (targets * known[..., None]).sum(axis=1) / np.maximum(counts, 1)[:, None]
    empty = counts == 0
    histograms[empty] = gaussian_targets(np.asarray(fallback, dtype=float)[empty], centers, sigma)
    return histograms


def kl_divergence(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``KL(p ‖ q)`` with ``q = softmax(logits)`` over the last axis, summed over bins, averaged over the rest.

    ``0 · log 0`` counts as 0, so one-hot targets work.

    >>> p = torch.tensor([[0.5, 0.5]]); kl_divergence(torch.zeros(1, 2), p).item()
    0.0
    """
    log_q = F.log_softmax(logits, dim=-1)
    return (torch.special.xlogy(targets, targets) - targets * log_q).sum(dim=-1).mean()


def bin_probabilities(logits: torch.Tensor, n_bins: int) -> np.ndarray:
    """``softmax`` per output of logits ``(n, n_outputs · n_bins)``: probabilities ``(n, n_outputs, n_bins)``.

    >>> bin_probabilities(torch.zeros(1, 4), 2).tolist()
    [[[0.5, 0.5], [0.5, 0.5]]]
    """
    return torch.softmax(logits.reshape(len(logits), -1, n_bins), dim=-1).numpy()


def distribution_mean(probabilities: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``Σ_k q_k c_k`` over the last axis."""
    return (np.asarray(probabilities) * centers).sum(axis=-1)


def distribution_std(probabilities: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``sqrt(Σ_k q_k (c_k - mean)²)`` over the last axis."""
    mean = distribution_mean(probabilities, centers)
    return np.sqrt(np.maximum((np.asarray(probabilities) * (centers - mean[..., None]) ** 2).sum(axis=-1), 0.0))


def coral_thresholds(centers: np.ndarray) -> np.ndarray:
    """The K - 1 thresholds halfway between consecutive centres."""
    centers = np.asarray(centers, dtype=float)
    return (centers[:-1] + centers[1:]) / 2


def coral_targets(scores: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Binary targets ``(n, K - 1)``: ``1`` where the score (clamped to the range) exceeds threshold k."""
    centers = np.asarray(centers, dtype=float)
    s = np.clip(np.asarray(scores, dtype=float), centers[0], centers[-1])[:, None]
    return (s > coral_thresholds(centers)).astype(float)


def coral_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum over the K - 1 tasks of the binary cross-entropy, averaged over the batch (and outputs).

    >>> round(coral_loss(torch.zeros(1, 3), torch.ones(1, 3)).item(), 4)  # 3 x log 2
    2.0794
    """
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(dim=-1).mean()


def coral_decode(logits: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """The expected rank ``Σ_k sigmoid(logit_k)`` mapped onto the centres: ``c_0 + rank · (c_1 - c_0)``.

    >>> coral_decode(np.array([[50.0, 50.0, -50.0, -50.0]]), bin_centers(1, 5, 5)).round(6).tolist()
    [3.0]
    """
    centers = np.asarray(centers, dtype=float)
    rank = (1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=float)))).sum(axis=-1)
    return centers[..., 0] + rank * (centers[..., 1] - centers[..., 0])
