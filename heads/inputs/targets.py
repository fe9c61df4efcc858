"""How a head scales its targets before training, and back after predicting.

``target_scaling`` is one setting shared by the torch heads and the SVR:

``"standardize"``   per output, ``(y - mean) / std`` of the training targets (the default;
                    any score scale then suits the same learning rate and margins)
``"none"``          raw scores (the MusicEval baseline trained on raw MOS)
``(center, scale)`` ``(y - center) / scale`` with fixed numbers: ``(5, 5)`` is the XACLE
                    baselines' ``(score - 5) / 5``; margins and clipping thresholds (τ,
                    ε) are then in those units

>>> center, scale = target_affine("standardize", np.array([[1.0], [3.0]]))
>>> center.tolist(), scale.tolist()
([2.0], [1.0])
>>> target_affine((5, 5), np.zeros((3, 2)))
(array([5., 5.]), array([5., 5.]))
"""

from __future__ import annotations

from numbers import Real

import numpy as np

SCALINGS = ("standardize", "none")


def check_target_scaling(value) -> None:
    """Raise ``ValueError`` naming ``target_scaling`` when ``value`` is not one of the accepted forms."""
    if isinstance(value, str):
        if value in SCALINGS:
            return
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, Real) and not isinstance(v, bool) and np.isfinite(v) for v in value):
        if 1e-12 <= abs(value[1]) <= 1e12:
            return
    raise ValueError(
        f"target_scaling must be 'standardize', 'none' or (center, scale) with 1e-12 <= |scale| <= 1e12, got {value!r}"
    )


def target_affine(scaling, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(center, scale)`` per output column of ``Y`` (n, n_outputs): the model learns ``(Y - center) / scale``."""
    check_target_scaling(scaling)
    n_outputs = Y.shape[1]
    if isinstance(scaling, str) and scaling == "none":
        return np.zeros(n_outputs), np.ones(n_outputs)
    if isinstance(scaling, str):
        spread = Y.std(axis=0)
        return Y.mean(axis=0), np.where(spread > 0, spread, 1.0)
    center, scale = (float(v) for v in scaling)
    return np.full(n_outputs, center), np.full(n_outputs, scale)
