"""Every estimator exported by ``heads`` passes scikit-learn's common checks.

Checks that cannot apply are listed, with the reason, in ``heads.EXPECTED_FAILED_CHECKS``;
strict mode makes an unexpectedly passing check fail, so that list stays exact.
"""

from __future__ import annotations

import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from clapmos import heads
from clapmos.heads import EXPECTED_FAILED_CHECKS

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small networks: see conftest


def check_instances():
    """One quick instance per registered head's model (its ``quick`` settings), the frame heads' distribution output, and the shared parts.

    Models that scikit-learn itself provides (``ridge``'s ``RidgeCV``) are checked by scikit-learn.
    The checks fit on 3 features: the estimators that split a paired audio | text matrix are
    given ``audio_dim=1`` (a 1-d audio and a 2-d text part), where the split has no middle.
    """
    models = []
    for name, spec in heads.head_specs().items():
        model = heads.make_head(name, **spec.quick).named_steps["model"]
        if isinstance(model, heads.CrossAttentionRegressor):
            model.set_params(audio_dim=1)
        if not type(model).__module__.startswith("sklearn.") and type(model) not in {type(m) for m in models}:
            models.append(model)
    return [
        # the blocks that compare audio with text need halves of one width: tests/test_heads_paired_contract.py
        heads.PairedEmbeddingFeatures(blocks=("audio", "text"), audio_dim=1),
        *models,
        heads.AttentionMLPRegressor(output="distribution", random_state=0, **heads.head_spec("attn_mlp").quick),  # xattn: heads/runs/conformance.py
        heads.CorpusAlignedRegressor(random_state=0, **heads.head_spec("mlp").quick),  # not a registered head: it needs each row's corpus
        heads.CVEnsemble(n_splits=3),
        heads.CVEnsemble([("a", Ridge()), ("b", Ridge(alpha=10.0))], n_splits=3, stack_method="nnls", clip=(-1e6, 1e6)),
    ]


def test_every_exported_estimator_has_a_check_instance():
    exported = [getattr(heads, name) for name in heads.__all__]
    estimators = {obj for obj in exported if isinstance(obj, type) and issubclass(obj, BaseEstimator)}
    assert estimators <= {type(est) for est in check_instances()}


def test_every_registered_head_is_checked():
    checked = {type(est) for est in check_instances()}
    for name, spec in heads.head_specs().items():
        model = heads.make_head(name).named_steps["model"]
        assert type(model) in checked or type(model).__module__.startswith("sklearn."), name


@parametrize_with_checks(
    check_instances(),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
    xfail_strict=True,
)
@pytest.mark.filterwarnings("ignore::clapmos.heads.NoListenerRatingsWarning")
@pytest.mark.filterwarnings("ignore:validation_fraction")
@pytest.mark.usefixtures("one_torch_thread")  # the checks fit on a few hundred rows
def test_sklearn_conformance(estimator, check):
    check(estimator)
