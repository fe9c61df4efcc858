"""End to end: embed -> fit (every head, and a stacked ensemble) -> predict -> evaluate; safe saved models."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.corpora.demo import make_demo_corpus
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.persistence import load_model, save_model
from clapmos.heads.runs.run import load_run

runner = CliRunner()
QUICK = ["--param", "mlp.max_epochs=5", "--param", "spo_mlp.max_epochs=5", "--param", "lgbm.n_estimators=20", "--param", "cosine.max_epochs=5"]


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    make_demo_corpus(folder / "corpus", n_clips=60, seed=1)
    result = invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--out", folder / "store.zarr")
    assert result.exit_code == 0, result.output
    return folder / "store.zarr"


# ridge and spo_mlp alone, and mlp, run with `make test-slow`: "ridge,spo_mlp" and the stacked test below cover them
@pytest.mark.parametrize("head", [pytest.param("ridge", marks=pytest.mark.slow), "lgbm", pytest.param("mlp", marks=pytest.mark.slow),
                                  pytest.param("spo_mlp", marks=pytest.mark.slow), "cosine", "ridge,spo_mlp"])
def test_fit_predict_evaluate_round_trip(store_path, tmp_path, head):
    run = tmp_path / "run"
    fitted = invoke("fit", "--store", store_path, "--embedder", "spectral", "--head", head, "--cv", 2, "--eval-split", "dev", "--out", run, *QUICK)
    assert fitted.exit_code == 0, fitted.output
    assert "cross-validated (2-fold, out-of-fold) on train" in fitted.output and "held-out split dev" in fitted.output
    for name in ["config.json", "provenance.json", "metrics.json", "oof_predictions.csv", "eval_predictions.csv",
                 "cv/scatter_utterance_overall.png", "cv/scatter_system_textual.png", "eval/results.csv"]:
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["cv"]) == {"utterance", "system"} and set(metrics["cv"]["utterance"]) == {"overall", "textual"}

    answer = tmp_path / "answer.txt"
    predicted = invoke("predict", "--model", run, "--store", store_path, "--split", "dev", "--format", "audiomos", "--out", answer)
    assert predicted.exit_code == 0, predicted.output
    in_memory = pd.read_csv(run / "eval_predictions.csv")
    written = pd.read_csv(answer, header=None, names=["id", "overall", "textual"])
    np.testing.assert_array_equal(written[["overall", "textual"]].to_numpy(), in_memory[["overall", "textual"]].to_numpy())

    evaluated = invoke("evaluate", "--pred", answer, "--store", store_path, "--split", "dev", "--no-plots")
    assert evaluated.exit_code == 0
    dev = json.loads((tmp_path / "answer_eval" / "results.json").read_text())["metrics"]
    assert dev == metrics["eval"]


def test_stacked_run_reports_every_head_and_the_ensemble(store_path, tmp_path):
    result = invoke("fit", "--store", store_path, "--embedder", "spectral", "--head", "ridge,mlp", "--cv", 3, "--out", tmp_path / "run", *QUICK)
    assert result.exit_code == 0, result.output
    assert "per head (out-of-fold)" in result.output
    heads = {row["head"] for row in json.loads((tmp_path / "run" / "metrics.json").read_text())["heads"]}
    assert heads == {"ridge", "mlp", "ensemble"}


def test_reloaded_run_predicts_exactly_what_the_fitted_run_predicted(store_path, tmp_path):
    from clapmos.heads.runs.run import RunConfig, fit_run, save_run

    store = FeatureStore.open(store_path)
    config = RunConfig(embedders=["spectral"], heads=["lgbm", "spo_mlp", "cosine"], cv=2,
                       params={"lgbm.n_estimators": 20, "spo_mlp.max_epochs": 5, "cosine.max_epochs": 5})
    fitted = fit_run(store, config)
    in_memory = fitted.predict(store, "dev")
    save_run(fitted, tmp_path / "run")
    reloaded = load_run(tmp_path / "run")
    pd.testing.assert_frame_equal(reloaded.predict(store, "dev"), in_memory, check_exact=True)
    oof = pd.read_csv(tmp_path / "run" / "oof_predictions.csv", dtype={"id": str}, float_precision="round_trip")
    assert oof["id"].tolist() == store.items("train")["id"].tolist()
    np.testing.assert_array_equal(oof["overall_pred"], fitted.oof["overall_pred"])


def test_grouped_folds_by_system_and_seeds(store_path, tmp_path):
    result = invoke("fit", "--store", store_path, "--embedder", "spectral", "--head", "ridge", "--cv", 3, "--group", "system", "--seeds", 2, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    model = load_run(tmp_path / "run").models["overall"]
    assert len(model.models_["ridge"]) == 6


def test_predict_refuses_a_store_embedded_differently(store_path, tmp_path):
    assert invoke("fit", "--store", store_path, "--embedder", "spectral", "--head", "ridge", "--cv", 2, "--out", tmp_path / "run").exit_code == 0
    other = tmp_path / "other.zarr"
    shutil.copytree(store_path, other)
    store = FeatureStore.open(other, mode="r+")
    store.group["features/spectral"].attrs["window_s"] = 5.0
    result = invoke("predict", "--model", tmp_path / "run", "--store", other, "--format", "csv", "--out", tmp_path / "p.csv")
    assert result.exit_code == 2 and "window_s: model 10.0, store 5.0" in result.output


def test_tampered_or_foreign_models_are_refused(tmp_path):
    from sklearn.linear_model import Ridge

    from clapmos.embed.errors import ClapmosError

    save_model(Ridge().fit(np.eye(3), [1.0, 2.0, 3.0]), tmp_path / "m")
    (tmp_path / "m" / "model.skops").write_bytes((tmp_path / "m" / "model.skops").read_bytes() + b"x")
    with pytest.raises(ClapmosError, match="sha256 mismatch"):
        load_model(tmp_path / "m")
    with pytest.raises(ClapmosError, match="no model.json"):
        load_model(tmp_path)
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "model.json").write_text('{"format": "something-else"}')
    with pytest.raises(ClapmosError, match="not a clapmos model file"):
        load_model(tmp_path / "f")


def test_a_model_file_holding_an_untrusted_type_is_refused(tmp_path):
    """Even with consistent hashes (an attacker rewrote the manifest), skops' type check refuses."""
    import collections
    import hashlib

    from clapmos.embed.errors import ClapmosError
    import skops.io as sio

    folder = tmp_path / "m"
    from sklearn.linear_model import Ridge

    save_model(Ridge().fit(np.eye(2), [0.0, 1.0]), folder)
    sio.dump({"payload": collections.Counter("abc")}, folder / "model.skops")  # a type outside the allowlist
    manifest = json.loads((folder / "model.json").read_text())
    manifest["sha256"]["model.skops"] = hashlib.sha256((folder / "model.skops").read_bytes()).hexdigest()
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ClapmosError, match="types clapmos does not trust: collections.Counter"):
        load_model(folder)


def test_bad_fit_arguments_are_clear(store_path, tmp_path):
    base = ["fit", "--store", store_path, "--embedder", "spectral", "--out", tmp_path / "r"]
    for args, message in [
        ((*base, "--head", "nope"), "--head nope: unknown head(s) nope"),
        ((*base, "--head", "ridge", "--train-split", "test"), "--train-split test:"),
        (("fit", "--store", store_path, "--head", "ridge", "--out", tmp_path / "r"), "--embedder clap:"),
        ((*base, "--head", "ridge", "--param", "oops"), "expected key=value"),
    ]:
        result = invoke(*args)
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "r").exists()


def test_zero_shot_clapscore_is_the_cosine_of_audio_and_text(store_path, tmp_path):
    result = invoke("score-zero-shot", "--store", store_path, "--embedder", "spectral", "--split", "dev", "--out", tmp_path / "cos.csv")
    assert result.exit_code == 0, result.output
    assert "zero-shot cosine against the labels" in result.output and "| system | overall |" in result.output
    written = pd.read_csv(tmp_path / "cos.csv", dtype={"id": str})
    store = FeatureStore.open(store_path)
    assert written["id"].tolist() == store.items("dev")["id"].tolist()
    audio, text = store.audio("spectral", "dev").astype(np.float64), store.text("spectral", "dev").astype(np.float64)
    cosine = (audio * text).sum(axis=1) / (np.linalg.norm(audio, axis=1) * np.linalg.norm(text, axis=1))
    np.testing.assert_allclose(written["cosine"], cosine, rtol=1e-6)  # float32 vectors


def test_the_readme_baseline_recipe_fits_affine_layers_with_l1(store_path, tmp_path):
    result = invoke("fit", "--store", store_path, "--embedder", "spectral", "--head", "mlp", "--target", "overall",
                    "--features", "audio", "--param", "hidden_sizes=[256, 64]", "--param", "activation=identity",
                    "--param", "loss=l1", "--param", "dropout=0", "--param", "max_epochs=5", "--cv", 2, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    model = load_run(tmp_path / "run").models["overall"].models_["mlp"][0].named_steps["model"]
    assert (list(model.hidden_sizes), model.activation, model.loss, model.dropout) == ([256, 64], "identity", "l1", 0)  # the JSON list given


def test_spo_fold_models_are_trained_on_the_listener_ratings_of_their_fold(store_path):
    from clapmos.heads.runs.run import RunConfig, fit_run

    store = FeatureStore.open(store_path)
    run = fit_run(store, RunConfig(embedders=["spectral"], heads=["spo_mlp", "ridge"], cv=2, params={"spo_mlp.max_epochs": 2, "spo_mlp.validation_fraction": None}))
    fold_models = run.models["overall"].models_["spo_mlp"]
    ratings_in = [m.named_steps["model"].screening_counts_[0]["ratings_in"] for m in fold_models]
    assert sum(ratings_in) == len(store.ratings("train"))  # each rating seen by exactly one training fold of 2
