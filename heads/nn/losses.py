"""Training losses of the torch heads, as callables ``loss(pred, target, **per_sample) -> scalar tensor``.

``pred`` and ``target`` have shape (batch, n_outputs). The SPO loss follows METHODS.md
§3.3: ``MSE + pairwise_weight * pairwise_hinge`` where the pairwise term compares the
predicted and the true difference of every ordered pair of clips of the mini-batch.

:class:`RegressionLoss` adds the options of the XACLE 2027 baseline (METHODS.md §5):
a *clipped* MSE (errors under τ cost nothing) and *class-balanced* weights. A clip's
class is its score's bin (:data:`XACLE_CLASS_EDGES`); with ``n_c`` training clips in
its class, its raw weight is ``(1 - β) / (1 - β^n_c)`` (:func:`class_balanced_weights`),
normalised over the mini-batch to sum to 1. The weights reach the loss as the per-sample
argument ``weight`` (raw weights; the loss normalises them per batch).

Two ways of applying them to the pointwise term:

``"published"``  as the published code does: the weights broadcast against the per-clip
                 errors into a B×B matrix, so the term is ``mean(errors) / B`` — a constant
                 scale, not a per-clip weight (the quirk is kept so the recipe reproduces it)
``"per_clip"``   the evident intent: ``sum_i w_i · error_i``

The pairwise term is weighted by ``sqrt(w_i · w_j)`` in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

#: Class edges of the XACLE 2027 baseline: [-1, 1, 2, ..., 10], ten bins of the 0-10 scale.
XACLE_CLASS_EDGES = (-1.0, *map(float, range(1, 11)))
POINTWISE = ("mse", "l1", "clipped_mse")
CLASS_WEIGHTINGS = ("published", "per_clip")


def pairwise_hinge(pred: torch.Tensor, target: torch.Tensor, margin: float = 0.1, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over all ordered pairs (i, j) of ``max(0, |(p_i - p_j) - (y_i - y_j)| - margin)``, halved.

    The mean runs over the full batch x batch matrix, the zero diagonal (i = j)
    included, as in the UTMOS / XACLE-baseline "contrastive" loss; with several
    outputs it is also averaged over the outputs. With ``weight`` (batch, n_outputs),
    normalised per output to sum to 1, each pair's term is multiplied by
    ``sqrt(w_i * w_j)`` first.

    >>> p, y = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.0], [3.0], [3.0]])
    >>> round(pairwise_hinge(p, y, margin=0.1).item(), 5)
    0.41111
    """
    pred_diff = pred.unsqueeze(1) - pred.unsqueeze(0)
    target_diff = target.unsqueeze(1) - target.unsqueeze(0)
    terms = F.relu((pred_diff - target_diff).abs() - margin)
    if weight is not None:
        terms = terms * torch.sqrt(weight.unsqueeze(1) * weight.unsqueeze(0))
    return terms.mean() / 2


def pointwise_errors(pred: torch.Tensor, target: torch.Tensor, kind: str = "mse", tau: float = 0.25) -> torch.Tensor:
    """Per-element errors: squared (``mse``), absolute (``l1``), or squared where ``|error| > tau`` (``clipped_mse``).

    >>> pointwise_errors(torch.tensor([[0.1], [1.0]]), torch.zeros(2, 1), "clipped_mse", tau=0.25).ravel().tolist()
    [0.0, 1.0]
    """
    diff = pred - target
    if kind == "l1":
        return diff.abs()
    squared = diff * diff
    if kind == "clipped_mse":
        return torch.where(diff.abs() > tau, squared, torch.zeros_like(squared))
    return squared


def class_counts(scores: np.ndarray, edges=XACLE_CLASS_EDGES) -> np.ndarray:
    """For every score, how many of ``scores`` share its class (per column of a 2-D array).

    Classes are the bins of ``edges``, each closed on the left and open on the right,
    the last one closed on both sides (:func:`numpy.histogram`'s convention); scores
    outside the edges count in the first or last bin.

    >>> class_counts(np.array([0.5, 1.0, 1.5, 10.0, 9.2]))
    array([1, 2, 2, 2, 2])
    """
    edges = np.asarray(edges, dtype=float)
    Y = np.asarray(scores, dtype=float)
    flat = Y.reshape(len(Y), -1)
    counts = np.empty(flat.shape, dtype=np.int64)
    for j in range(flat.shape[1]):
        bins = np.clip(np.searchsorted(edges, flat[:, j], side="right") - 1, 0, len(edges) - 2)
        counts[:, j] = np.bincount(bins, minlength=len(edges) - 1)[bins]
    return counts.reshape(Y.shape)


def class_balanced_weights(counts: np.ndarray, beta: float) -> np.ndarray:
    """Raw class-balanced weights ``(1 - beta) / (1 - beta ** n_c)`` ("effective number of samples").

    ``beta = 0`` weighs every clip 1.

    >>> class_balanced_weights(np.array([1, 2]), 0.5).tolist()
    [1.0, 0.6666666666666666]
    """
    counts = np.asarray(counts, dtype=float)
    return (1.0 - beta) / (1.0 - np.power(beta, counts))


def check_class_edges(class_edges) -> None:
    """Raise ``ValueError`` unless ``class_edges`` are at least two increasing numbers (the bins of the class weights)."""
    edges = np.asarray(class_edges, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError(f"The 'class_edges' parameter must be at least two increasing numbers. Got {class_edges!r} instead.")


@dataclass(frozen=True)
class RegressionLoss:
    """``pointwise + pairwise_weight * pairwise``, optionally class-balanced.

    Parameters
    ----------
    kind : {"mse", "l1", "clipped_mse"}
    tau : float
        Threshold of ``clipped_mse`` (errors with ``|error| <= tau`` cost nothing).
    pairwise_weight, margin : float
        Weight and margin of :func:`pairwise_hinge` (0 leaves it out).
    class_weighting : {None, "published", "per_clip"}
        How the per-sample ``weight`` enters (see the module docstring); ``None``
        ignores weights.

    Examples
    --------
    >>> p, y = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.0], [3.0], [3.0]])
    >>> round(RegressionLoss("mse", pairwise_weight=0.5)(p, y).item(), 5)  # the SPO loss
    0.87222
    >>> w = torch.tensor([[1.0], [1.0], [2.0]])
    >>> round(RegressionLoss("mse", class_weighting="per_clip")(p, y, weight=w).item(), 5)
    0.75
    >>> round(RegressionLoss("mse", class_weighting="published")(p, y, weight=w).item(), 5)  # mean / B
    0.22222
    """

    kind: str = "mse"
    tau: float = 0.25
    pairwise_weight: float = 0.0
    margin: float = 0.1
    class_weighting: str | None = None

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        errors = pointwise_errors(pred, target, self.kind, self.tau)
        normalised = None
        if self.class_weighting is not None:
            if weight is None:
                raise ValueError("a class-balanced loss needs the per-sample weight")
            normalised = weight / weight.sum(dim=0, keepdim=True)
        if self.class_weighting == "per_clip":
            pointwise = (normalised * errors).sum(dim=0).mean()
        elif self.class_weighting == "published":
            pointwise = errors.mean() / len(errors)
        elif self.kind in POINTWISE_LOSSES:  # torch's own, so unweighted runs repeat earlier versions bit for bit
            pointwise = POINTWISE_LOSSES[self.kind](pred, target)
        else:
            pointwise = errors.mean()
        if not self.pairwise_weight:
            return pointwise
        return pointwise + self.pairwise_weight * pairwise_hinge(pred, target, self.margin, normalised)



POINTWISE_LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss}

