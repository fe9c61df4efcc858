"""A linear ensemble's arrays (``linear.npz``) give exactly its scikit-learn predictions, and a run holding them
scores from them alone: nothing else is loaded, every file is checked first, and anything not linear keeps its models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import normalize

from clapmos.embed.errors import ClapmosError
from clapmos.heads.inputs.blocks import BLOCK_ORDER
from clapmos.heads.inputs.features import PairedEmbeddingFeatures
from clapmos.heads.inputs.proximity import unit_rows
from clapmos.heads.registry import make_head
from clapmos.heads.runs import linear_form as linear_module
from clapmos.heads.runs.ensemble import CVEnsemble
from clapmos.heads.runs.fitted import SavedModels, load_run
from clapmos.heads.runs.linear_form import LINEAR_FILE, LinearForm, linear_form
from clapmos.heads.runs.persistence import load_linear, save_model
from clapmos.heads.runs.run import RunConfig, fit_run, save_run

TWO_EMBEDDERS = (("a", 6, 6), ("b", 4, 0))  # the second audio-only


def data(n: int = 60, width: int = 16, seed: int = 0, targets: int = 1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, width))
    w = rng.normal(size=(width, targets))
    y = X @ w + 0.1 * rng.normal(size=(n, targets))
    return X, (y[:, 0] if targets == 1 else y), rng.normal(size=(25, width))


def assert_repeats(ensemble: CVEnsemble, X_new: np.ndarray) -> None:
    """The form of ``ensemble`` gives its prediction and spread bit for bit, in float64 and in float32."""
    form = linear_form(ensemble)
    assert form is not None
    for X in (X_new, X_new.astype(np.float32)):
        mean, std = form.predict(X)
        expected_mean, expected_std = ensemble.predict(X, return_std=True)
        np.testing.assert_array_equal(mean, expected_mean)
        np.testing.assert_array_equal(std, expected_std)


@pytest.mark.parametrize("blocks", [("audio",), ("audio", "text", "cosine"), ("product", "absdiff"), BLOCK_ORDER])
def test_the_form_of_a_ridge_ensemble_repeats_it_bit_for_bit(blocks):
    X, y, X_new = data()
    assert_repeats(CVEnsemble(make_head("ridge", blocks=blocks), n_splits=3).fit(X, y), X_new)


@pytest.mark.parametrize("settings_", [
    {"features__unit_norm": True},
    {"scale": "passthrough"},
    {"scale__with_mean": False},
    {"features__embedders": ["a"]},
], ids=["unit-norm", "no-scaler", "no-centring", "one-embedder-of-two"])
def test_every_setting_of_the_linear_pipeline_is_repeated(settings_):
    X, y, X_new = data()
    head = make_head("ridge", blocks=("audio", "text", "l1", "l2"), layout=TWO_EMBEDDERS, **settings_)
    assert_repeats(CVEnsemble(head, n_splits=3).fit(X, y), X_new)


@pytest.mark.parametrize("stack_method", ["ridge", "nnls"])
def test_stacked_members_seeds_and_a_clip_are_repeated(stack_method):
    X, y, X_new = data()
    members = [("ridge", make_head("ridge", blocks=("audio",))), ("ridge:b", make_head("ridge", blocks=("audio", "text", "angular")))]
    ensemble = CVEnsemble(members, n_splits=3, n_seeds=2, stack_method=stack_method, clip=(-1.0, 1.0)).fit(X, y)
    assert ensemble.stackers_ is not None
    assert_repeats(ensemble, X_new)


def test_several_targets_and_a_float32_fit_are_repeated():
    X, y, X_new = data(targets=2)
    assert_repeats(CVEnsemble(make_head("ridge"), n_splits=3).fit(X.astype(np.float32), y), X_new)


@pytest.mark.parametrize("head", [
    Pipeline([("features", PairedEmbeddingFeatures()), ("model", KNeighborsRegressor(3))]),
    Pipeline([("features", PairedEmbeddingFeatures()), ("pca", PCA(3)), ("model", make_head("ridge")[-1])]),
    make_head("ridge")[-1],  # no feature step
], ids=["neighbours", "an-extra-step", "bare-model"])
def test_anything_else_has_no_form(head):
    X, y, _ = data()
    assert linear_form(CVEnsemble(head, n_splits=3).fit(X, y)) is None


def test_a_form_that_does_not_repeat_its_ensemble_is_not_kept(monkeypatch):
    X, y, _ = data()
    ensemble = CVEnsemble(make_head("ridge"), n_splits=3).fit(X, y)
    form = linear_form(ensemble)
    model = form.members[0][0]
    wrong = LinearForm(((type(model)(**{**vars(model), "coef": model.coef * (1 + 1e-6)}), *form.members[0][1:]),), None, None, form.n_features)
    assert linear_module._repeats(form, ensemble) and not linear_module._repeats(wrong, ensemble)
    monkeypatch.setattr(linear_module, "_repeats", lambda *_: False)
    assert linear_form(ensemble) is None


def test_the_form_refuses_what_scikit_learn_refuses():
    X, y, X_new = data()
    form = linear_form(CVEnsemble(make_head("ridge"), n_splits=3).fit(X, y))
    with pytest.raises(ValueError, match="features"):
        form.predict(X_new[:, :-1])
    with pytest.raises(ValueError, match="NaN"):
        form.predict(np.where(np.eye(*X_new.shape, dtype=bool), np.nan, X_new))


# ---------------------------------------------------------------------- files
def test_the_arrays_are_saved_with_their_sha256_and_load_without_pickle(tmp_path):
    X, y, X_new = data()
    ensemble = CVEnsemble(make_head("ridge", blocks=BLOCK_ORDER), n_splits=3).fit(X, y)
    save_model(ensemble, tmp_path)
    manifest = json.loads((tmp_path / "model.json").read_text())
    assert LINEAR_FILE in manifest["sha256"] and manifest["linear"]["file"] == LINEAR_FILE
    loaded = load_linear(tmp_path)
    for a, b in zip(loaded.predict(X_new), ensemble.predict(X_new, return_std=True)):
        np.testing.assert_array_equal(a, b)


def test_a_model_that_is_not_linear_saves_no_arrays(tmp_path):
    X, y, _ = data()
    save_model(CVEnsemble(Pipeline([("features", PairedEmbeddingFeatures()), ("model", KNeighborsRegressor(3))]), n_splits=3).fit(X, y), tmp_path)
    assert not (tmp_path / LINEAR_FILE).exists() and "linear" not in json.loads((tmp_path / "model.json").read_text())
    assert load_linear(tmp_path) is None


@pytest.mark.parametrize("damaged", [LINEAR_FILE, "model.skops"])
def test_a_changed_file_is_refused_before_the_arrays_are_used(tmp_path, damaged):
    X, y, _ = data()
    save_model(CVEnsemble(make_head("ridge"), n_splits=3).fit(X, y), tmp_path)
    data_ = bytearray((tmp_path / damaged).read_bytes())
    data_[len(data_) // 2] ^= 0xFF
    (tmp_path / damaged).write_bytes(bytes(data_))
    with pytest.raises(ClapmosError, match=rf"{damaged}: its contents changed since the model was saved"):
        load_linear(tmp_path)


# ---------------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def store(spectral_store):
    return spectral_store


def test_a_ridge_run_predicts_from_its_arrays_and_loads_its_models_only_when_asked(store, tmp_path):
    fitted = fit_run(store, RunConfig(embedders=["spectral"], heads=["ridge"], cv=3))
    save_run(fitted, tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert set(run.linear) == set(run.targets) == {"overall", "textual"}
    assert isinstance(run.models, SavedModels) and all(v is None for v in run.models._loaded.values())
    expected = fitted.predict(store)
    predicted = run.predict(store)
    assert all(v is None for v in run.models._loaded.values())  # predicted from the arrays alone
    for target in run.targets:
        np.testing.assert_array_equal(predicted[[target, f"{target}_std"]], expected[[target, f"{target}_std"]])
    X, _ = store.stacked(["spectral"])
    np.testing.assert_array_equal(run.models["overall"].predict(X), fitted.models["overall"].predict(X))


def test_a_run_saved_without_arrays_loads_its_models_and_predicts_the_same(store, tmp_path, monkeypatch):
    fitted = fit_run(store, RunConfig(embedders=["spectral"], heads=["ridge"], cv=3, targets=["overall"]))
    monkeypatch.setattr(linear_module, "linear_form", lambda ensemble: None)  # as runs saved before the arrays
    save_run(fitted, tmp_path / "run")
    monkeypatch.undo()
    run = load_run(tmp_path / "run")
    assert run.linear == {} and isinstance(run.models, dict)
    np.testing.assert_array_equal(run.predict(store)["overall"], fitted.predict(store)["overall"])


def test_a_run_with_a_member_that_is_not_linear_uses_its_models(store, tmp_path):
    fitted = fit_run(store, RunConfig(embedders=["spectral"], heads=["ridge", "svr"], cv=3, targets=["overall"]))
    save_run(fitted, tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run.linear == {} and not (tmp_path / "run" / "model" / "overall" / LINEAR_FILE).exists()
    np.testing.assert_array_equal(run.predict(store)["overall"], fitted.predict(store)["overall"])


# ---------------------------------------------------------------------- the numpy unit normalisation
@settings(max_examples=60, deadline=None)
@given(arrays(st.sampled_from([np.float32, np.float64]), st.tuples(st.integers(1, 6), st.integers(1, 5)),
              elements=st.floats(-1e3, 1e3, width=32) | st.sampled_from([float(np.float32(v)) for v in (0.0, 1e-8, -3e-9, 1e-30)])))
def test_unit_rows_are_scikit_learns_normalize_bit_for_bit(X):
    np.testing.assert_array_equal(unit_rows(X), normalize(X))
    assert unit_rows(X).dtype == normalize(X).dtype
