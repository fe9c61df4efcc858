"""Training losses of the torch heads, as callables ``loss(pred, target) -> scalar tensor``.

``pred`` and ``target`` have shape (batch, n_outputs). The SPO loss follows METHODS.md
§3.3: ``MSE + pairwise_weight * pairwise_hinge`` where the pairwise term compares the
predicted and the true difference of every ordered pair of clips of the mini-batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F


def pairwise_hinge(pred: torch.Tensor, target: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """Mean over all ordered pairs (i, j) of ``max(0, |(p_i - p_j) - (y_i - y_j)| - margin)``, halved.

    The mean runs over the full batch x batch matrix, the zero diagonal (i = j)
    included, as in the UTMOS / XACLE-baseline "contrastive" loss; with several
    outputs it is also averaged over the outputs.

    >>> p, y = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.0], [3.0], [3.0]])
    >>> round(pairwise_hinge(p, y, margin=0.1).item(), 5)
    0.41111
    """
    pred_diff = pred.unsqueeze(1) - pred.unsqueeze(0)
    target_diff = target.unsqueeze(1) - target.unsqueeze(0)
    return F.relu((pred_diff - target_diff).abs() - margin).mean() / 2


@dataclass(frozen=True)
class SpoLoss:
    """``MSE(pred, target) + pairwise_weight * pairwise_hinge(pred, target, margin)``.

    >>> p, y = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.0], [3.0], [3.0]])
    >>> round(SpoLoss(pairwise_weight=0.5, margin=0.1)(p, y).item(), 5)
    0.87222
    """

    pairwise_weight: float = 0.5
    margin: float = 0.1

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(pred, target) + self.pairwise_weight * pairwise_hinge(pred, target, self.margin)


POINTWISE_LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss}


@dataclass(frozen=True)
class PointwisePairwiseLoss:
    """``pointwise(pred, target) + pairwise_weight * pairwise_hinge(pred, target, margin)``; ``mse`` with 0.5 is :class:`SpoLoss`.

    >>> p, y = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.0], [3.0], [3.0]])
    >>> round(PointwisePairwiseLoss("mse", 0.5, 0.1)(p, y).item(), 5), round(PointwisePairwiseLoss("l1", 0.0)(p, y).item(), 5)
    (0.87222, 0.66667)
    """

    pointwise: str = "mse"
    pairwise_weight: float = 0.5
    margin: float = 0.1

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = POINTWISE_LOSSES[self.pointwise](pred, target)
        if self.pairwise_weight:
            loss = loss + self.pairwise_weight * pairwise_hinge(pred, target, self.margin)
        return loss
