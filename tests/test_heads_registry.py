"""Heads by name: pipelines that fit, tune, clone, pickle and repeat like any scikit-learn model."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from clapmos.embed.errors import ClapmosError
from clapmos.heads import HEAD_NAMES, HeadSpec, NoListenerRatingsWarning, default_blocks, head_spec, make_head, register_head
from clapmos.heads.registry import HEAD_MODULES

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small networks: see conftest

# Small settings per head (each head's registered ``quick`` settings) so every test stays well under a second.
QUICK = {name: dict(head_spec(name).quick) for name in HEAD_NAMES}


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


def test_the_head_names_are_the_documented_ten():
    assert HEAD_NAMES == ("ridge", "lgbm", "mlp", "spo_mlp", "cosine", "svr", "dist", "coral", "attn_mlp", "xattn", "bt", "ldnet", "moe", "aligned")


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
    with pytest.raises(ClapmosError, match="ridge, lgbm, mlp, spo_mlp, cosine, svr, dist, coral"):
        make_head("gbm")


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


def test_every_listed_module_registers_its_head_with_a_summary():
    for name, module in HEAD_MODULES.items():
        spec = head_spec(name)
        assert spec.name == name and spec.summary, module
        assert isinstance(make_head(name, **spec.quick), Pipeline)


def test_registering_a_head_not_listed_in_the_registry_is_refused():
    with pytest.raises(ValueError, match="add one line there"):
        register_head(HeadSpec(name="unlisted", summary="x", build=lambda **_: None))


def test_listing_the_heads_imports_neither_torch_nor_lightgbm():
    code = "import sys; from clapmos import heads; heads.HEAD_NAMES; heads.head_spec('ridge'); print('torch' in sys.modules, 'lightgbm' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.split() == ["False", "False"]


def test_runs_saved_before_the_registry_still_load_and_predict_the_same(tmp_path):
    """``tests/data/run_v0_1`` was written by clapmos 0.1.0 (ridge, lgbm and spo_mlp stacked, one embedder)."""
    from clapmos.embed.corpora import read_corpus
    from clapmos.embed.corpora.demo import make_demo_corpus
    from clapmos.embed.engines.runner import embed_corpus
    from clapmos.embed.store import FeatureStore
    from clapmos.heads.runs.run import load_run

    make_demo_corpus(tmp_path / "corpus", n_clips=40, seed=0)
    store = FeatureStore.create(tmp_path / "s.zarr", read_corpus("musiceval", tmp_path / "corpus"))
    embed_corpus(store, "spectral", progress=False)
    run = load_run(ROOT / "tests" / "data" / "run_v0_1")
    assert run.config.embedders == ["spectral"] and run.config.heads == ["ridge", "lgbm", "spo_mlp"]
    expected = pd.read_csv(ROOT / "tests" / "data" / "run_v0_1_predictions.csv")
    predicted = run.predict(store)
    assert predicted["id"].tolist() == expected["id"].tolist()
    np.testing.assert_allclose(predicted[["overall", "overall_std"]], expected[["overall", "overall_std"]], rtol=1e-9)
