"""Every estimator exported by ``heads`` passes scikit-learn's common checks.

Checks that cannot apply are listed, with the reason, in ``heads.EXPECTED_FAILED_CHECKS``;
strict mode makes an unexpectedly passing check fail, so that list stays exact.
"""

from __future__ import annotations

import pytest
from lightgbm import LGBMRegressor
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import heads
from heads import EXPECTED_FAILED_CHECKS

FAST = {"max_epochs": 20, "patience": 5, "lr": 1e-2}


def check_instances():
    """One quick instance per exported estimator (few epochs, few trees)."""
    return [
        heads.PairedEmbeddingFeatures(blocks=("audio", "text", "product", "absdiff", "cosine")),
        heads.TorchMLPRegressor(hidden_sizes=(16,), **FAST),
        heads.SpoMLPRegressor(hidden_sizes=(16,), **FAST),
        heads.SpoCosineRegressor(**FAST),
        heads.PerTargetRegressor(
            LGBMRegressor(n_estimators=20, min_child_samples=2, n_jobs=1, verbose=-1, deterministic=True)
        ),
        heads.CVEnsemble(n_splits=3),
    ]


def test_every_exported_estimator_has_a_check_instance():
    exported = [getattr(heads, name) for name in heads.__all__]
    estimators = {obj for obj in exported if isinstance(obj, type) and issubclass(obj, BaseEstimator)}
    assert {type(est) for est in check_instances()} == estimators


@parametrize_with_checks(
    check_instances(),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
    xfail_strict=True,
)
@pytest.mark.filterwarnings("ignore::heads.NoListenerRatingsWarning")
@pytest.mark.filterwarnings("ignore:validation_fraction")
def test_sklearn_conformance(estimator, check):
    check(estimator)
