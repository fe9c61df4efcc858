"""Heads by name: pipelines that fit, tune, clone, pickle and repeat like any scikit-learn model."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from embed.errors import ClapmosError
from heads import HEAD_NAMES, NoListenerRatingsWarning, default_blocks, make_head

# Small settings per head so that every test stays well under a second.
QUICK = {
    "ridge": {},
    "lgbm": {"n_estimators": 20, "min_child_samples": 5},
    "mlp": {"hidden_sizes": (16,), "max_epochs": 8, "lr": 1e-2},
    "spo_mlp": {"hidden_sizes": (16,), "max_epochs": 8, "lr": 1e-2},
    "cosine": {"max_epochs": 5},
}


@pytest.fixture
def paired():
    """80 items of 6-d audio | 6-d text, two targets on a 1-5 scale."""
    rng = np.random.default_rng(0)
    audio = rng.normal(size=(80, 6))
    X = np.hstack([audio, audio + rng.normal(size=(80, 6))])
    Y = np.clip(3 + np.column_stack([audio[:, 0], audio[:, 1] - audio[:, 2]]), 1, 5)
    return X, Y


@pytest.fixture(autouse=True)
def _quiet_fallback():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoListenerRatingsWarning)
        yield


def test_the_head_names_are_the_documented_five():
    assert HEAD_NAMES == ("ridge", "lgbm", "mlp", "spo_mlp", "cosine")


@pytest.mark.parametrize(
    ("target", "blocks"),
    [
        ("overall", ("audio",)),
        ("textual", ("audio", "text", "cosine")),
        ("alignment", ("audio", "text", "cosine")),
        (None, ("audio", "text", "cosine")),
        (["overall", "textual"], ("audio", "text", "cosine")),
        (["overall"], ("audio",)),
    ],
)
def test_default_blocks_follow_the_baseline(target, blocks):
    assert default_blocks(target) == blocks


def test_a_head_is_a_pipeline_of_features_scaler_and_model():
    head = make_head("spo_mlp", target="overall")
    assert isinstance(head, Pipeline) and [name for name, _ in head.steps] == ["features", "scale", "model"]
    assert head.named_steps["features"].blocks == ("audio",)
    assert [name for name, _ in make_head("lgbm").steps] == ["features", "model"]
    assert [name for name, _ in make_head("cosine").steps] == ["model"]


def test_explicit_blocks_override_the_target_defaults():
    head = make_head("ridge", blocks=("audio", "product"), target="overall")
    assert head.named_steps["features"].blocks == ("audio", "product")


def test_plain_settings_go_to_the_model_and_step_settings_to_their_step():
    mlp = make_head("mlp", hidden_sizes=(8,), scale__with_std=False, random_state=5)
    assert mlp.named_steps["model"].hidden_sizes == (8,) and mlp.named_steps["model"].random_state == 5
    assert mlp.named_steps["scale"].with_std is False
    lgbm = make_head("lgbm", num_leaves=7)
    assert lgbm.named_steps["model"].estimator.num_leaves == 7
    assert lgbm.named_steps["model"].estimator.deterministic is True


def test_an_unknown_head_lists_the_known_ones():
    with pytest.raises(ClapmosError, match="ridge, lgbm, mlp, spo_mlp, cosine"):
        make_head("svr")


def test_an_unknown_setting_lists_the_settable_ones():
    with pytest.raises(ClapmosError, match="head 'mlp'.*hidden_sizes"):
        make_head("mlp", hiden_sizes=(8,))


def test_the_cosine_head_refuses_feature_blocks():
    with pytest.raises(ClapmosError, match="cosine head"):
        make_head("cosine", blocks=("audio",))


@pytest.mark.parametrize("name", HEAD_NAMES)
@pytest.mark.parametrize("n_targets", [1, 2])
def test_every_head_fits_one_or_two_targets(paired, name, n_targets):
    X, Y = paired
    y = Y[:, 0] if n_targets == 1 else Y
    pred = make_head(name, target="overall", **QUICK[name]).fit(X, y).predict(X[:5])
    assert pred.shape == y[:5].shape and np.isfinite(pred).all()


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_the_same_random_state_repeats_every_head_exactly(paired, name):
    X, Y = paired
    first = make_head(name, random_state=1, **QUICK[name]).fit(X, Y).predict(X)
    second = make_head(name, random_state=1, **QUICK[name]).fit(X, Y).predict(X)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_fitted_heads_pickle_and_predict_the_same(paired, name):
    X, Y = paired
    head = make_head(name, **QUICK[name]).fit(X, Y)
    restored = pickle.loads(pickle.dumps(head))
    np.testing.assert_array_equal(restored.predict(X), head.predict(X))


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_clone_gives_an_unfitted_head_with_the_same_settings(paired, name):
    head = make_head(name, **QUICK[name]).fit(*paired)
    copy = clone(head)
    assert not hasattr(copy.named_steps["model"], "n_features_in_")
    assert copy.get_params(deep=False).keys() == head.get_params(deep=False).keys()
    assert {k: repr(v) for k, v in copy.get_params().items() if "__" in k} == {
        k: repr(v) for k, v in head.get_params().items() if "__" in k
    }


def test_set_params_changes_the_nested_model():
    head = make_head("spo_mlp").set_params(model__pairwise_weight=0.0, model__margin=0.3)
    assert (head.named_steps["model"].pairwise_weight, head.named_steps["model"].margin) == (0.0, 0.3)


def test_grid_search_tunes_blocks_and_network_together(paired):
    X, Y = paired
    search = GridSearchCV(
        make_head("mlp", **QUICK["mlp"]),
        {"features__blocks": [("audio",), ("audio", "text", "cosine")], "model__hidden_sizes": [(4,), (16,)]},
        cv=2,
    ).fit(X, Y[:, 0])
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.predict(X).shape == (80,)
