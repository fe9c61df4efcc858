"""What a frame head's network ends with: one score per output, or a distribution over K score bins.

``output="score"`` (the default) is the frame heads' regression on the score scale.
``output="distribution"`` trains them as the ``dist`` head trains its MLP: the network
ends in ``n_outputs × n_bins`` logits, fitted with ``KL(p ‖ q)`` to Gaussian-smoothed
targets (``sigma`` in score units) over bins spanning ``score_range`` (``None``: each
output's training range), and predicts the distribution's mean, its standard deviation
(``return_std``) and the bins' probabilities (``predict_distribution``). The formulas
are :mod:`clapmos.heads.nn.distribution`'s. The targets are Gaussians around the clips' scores ``y``,
or (``distribution_targets="histogram"``) the histograms of each clip's listener ratings;
``listener_targets`` is ignored, ``screening_tau`` refused, and so are ``loss``,
``pairwise_weight`` and ``margin``.

>>> training = DistributionTraining.of(np.array([[1.0], [3.0], [5.0]]), n_bins=5, sigma=0.0, score_range=None)
>>> training.centers.tolist(), training.targets[2].tolist()
([[1.0, 2.0, 3.0, 4.0, 5.0]], [[0.0, 0.0, 0.0, 0.0, 1.0]])
>>> training.decode(torch.tensor([[0.0, 0.0, 50.0, 0.0, 0.0]])).round(6).tolist()
[[3.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions

from clapmos.heads.nn.distribution import (
    BIN_CONSTRAINTS,
    DISTRIBUTION_TARGETS,
    bin_probabilities,
    check_bins,
    distribution_mean,
    gaussian_targets,
    kl_divergence,
    rating_histograms,
    score_bins,
)

OUTPUTS = ("score", "distribution")

#: scikit-learn parameter constraints of ``output`` and the bins' settings.
OUTPUT_CONSTRAINTS: dict[str, list] = {
    "output": [StrOptions(set(OUTPUTS))],
    "distribution_targets": [StrOptions(set(DISTRIBUTION_TARGETS))],
    **BIN_CONSTRAINTS,
}


def check_output_parameters(head) -> None:
    """What the constraints cannot say: a valid ``score_range``; no ``screening_tau`` with the distribution output."""
    check_bins(head.n_bins, head.sigma, head.score_range)
    if head.output == "distribution" and head.screening_tau is not None:
        raise ValueError(
            f"The 'screening_tau' parameter of {type(head).__name__} screens listener ratings, which output='distribution' "
            f"does not read (it trains on the clips' scores y). Got screening_tau={head.screening_tau!r} with "
            "output='distribution': leave screening_tau unset, or use output='score'."
        )


@dataclass(frozen=True)
class DistributionTraining:
    """The bins, the network's targets, its loss and how its logits decode to scores, for ``train_module``."""

    centers: np.ndarray  # (n_outputs, n_bins)
    targets: np.ndarray  # (n, n_outputs, n_bins)

    @classmethod
    def of(cls, Y: np.ndarray, n_bins: int, sigma: float, score_range, ratings: np.ndarray | None = None) -> "DistributionTraining":
        """Bins for scores ``Y`` (n, n_outputs) and the Gaussian-smoothed target of every score,
        or, with ``ratings`` (n, k, n_outputs, NaN-padded), the smoothed histogram of every clip's ratings."""
        if ratings is None:
            centers = score_bins(Y, n_bins, score_range)
            targets = np.stack([gaussian_targets(Y[:, t], centers[t], float(sigma)) for t in range(Y.shape[1])], axis=1)
            return cls(centers, targets)
        span = np.vstack([Y, np.fmin(Y.min(axis=0), np.nanmin(ratings, axis=(0, 1))), np.fmax(Y.max(axis=0), np.nanmax(ratings, axis=(0, 1)))])
        centers = score_bins(span, n_bins, score_range)
        targets = np.stack([rating_histograms(ratings[:, :, t], centers[t], float(sigma), Y[:, t]) for t in range(Y.shape[1])], axis=1)
        return cls(centers, targets)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``KL(p ‖ q)`` of flat logits ``(batch, n_outputs · n_bins)`` against targets ``(batch, n_outputs, n_bins)``."""
        return kl_divergence(output.view(target.shape), target)

    def decode(self, output: torch.Tensor) -> np.ndarray:
        """The predicted distributions' means ``(batch, n_outputs)`` (what early stopping ranks)."""
        return distribution_mean(bin_probabilities(output.double().cpu(), self.centers.shape[1]), self.centers)
