"""``ridge``: scikit-learn's ``RidgeCV`` behind a scaler, one alpha per target.

Efficient leave-one-out over a log grid of alphas (``gcv_mode="svd"``): the fast, strong
default to compare every other head against.

>>> from clapmos.heads.registry import make_head
>>> make_head("ridge", target="overall").named_steps["model"].alpha_per_target
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clapmos.heads.registry import HeadSpec, register_head

if TYPE_CHECKING:
    from sklearn.linear_model import RidgeCV

RIDGE_ALPHAS = tuple(np.logspace(-1, 5, 13))


def build_ridge(**_) -> RidgeCV:
    """The model step of the ``ridge`` head (scikit-learn imported here: scoring with a saved ridge run never builds one)."""
    from sklearn.linear_model import RidgeCV

    return RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True, gcv_mode="svd")


register_head(HeadSpec(name="ridge", summary="RidgeCV, one alpha per target (leave-one-out over a log grid)", build=build_ridge))
