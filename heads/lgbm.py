"""``lgbm``: one LightGBM booster per target, single-threaded and deterministic.

>>> from clapmos.heads.registry import make_head
>>> make_head("lgbm", num_leaves=7).named_steps["model"].estimator.num_leaves
7
"""

from __future__ import annotations

from lightgbm import LGBMRegressor

from clapmos.heads.inputs.per_target import PerTargetRegressor
from clapmos.heads.registry import HeadSpec, register_head

LGBM_DEFAULTS = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.3,
    "reg_lambda": 1.0,
    "n_jobs": 1,
    "max_bin": 63,
    "deterministic": True,
    "force_col_wise": True,
    "verbose": -1,
}


def build_lgbm(random_state=None, **_) -> PerTargetRegressor:
    """The model step of the ``lgbm`` head: ``PerTargetRegressor(LGBMRegressor(**LGBM_DEFAULTS))``."""
    return PerTargetRegressor(LGBMRegressor(**LGBM_DEFAULTS, random_state=random_state))


register_head(
    HeadSpec(
        name="lgbm",
        summary="one LightGBM booster per target (deterministic, single thread)",
        build=build_lgbm,
        scaled=False,
        param_prefix="model__estimator__",
        types=(PerTargetRegressor, LGBMRegressor),
        quick={"n_estimators": 20, "min_child_samples": 2, "colsample_bytree": 1.0, "subsample": 1.0},
    )
)
