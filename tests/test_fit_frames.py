"""End to end with frame tokens: embed --frames -> fit frame heads (alone or stacked with clip-vector heads) -> predict -> evaluate; bad input."""

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
from clapmos.embed.store.seals import row_digests
from clapmos.heads.runs.run import RunConfig, fit_run, load_run

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = ["d_model=16", "n_heads=2", "hidden_sizes=[16]", "max_epochs=3"]
QUICK = [arg for head in ("attn_mlp", "xattn") for setting in SMALL for arg in ("--param", f"{head}.{setting}")]


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames-e2e")
    make_demo_corpus(folder / "corpus", n_clips=48, seed=2)
    return folder


@pytest.fixture(scope="module")
def store_path(corpus):
    result = invoke("embed", "--corpus", "musiceval", "--root", corpus / "corpus", "--embedder", "spectral", "--frames", "--out", corpus / "store.zarr")
    assert result.exit_code == 0, result.output
    return corpus / "store.zarr"


@pytest.fixture(scope="module")
def stacked_run(store_path, tmp_path_factory):
    run = tmp_path_factory.mktemp("run") / "run"
    result = invoke("fit", "--store", store_path, "--embedder", "spectral", "--head", "attn_mlp,ridge", "--cv", 2, "--eval-split", "dev",
                    "--out", run, *QUICK)
    assert result.exit_code == 0, result.output
    return run, result.output


def test_a_frame_head_stacked_with_a_clip_vector_head_fits_predicts_and_evaluates(store_path, stacked_run, tmp_path):
    run, output = stacked_run
    assert "per head (out-of-fold)" in output and "| attn_mlp | overall |" in output and "| ridge | textual |" in output
    for name in ["config.json", "provenance.json", "metrics.json", "eval/attention_overall.png", "eval/attention_textual.png"]:
        assert (run / name).is_file(), name
    provenance = json.loads((run / "provenance.json").read_text())
    assert provenance["frames"]["spectral"]["frame_rate"] == 5.0

    answer = tmp_path / "answer.txt"
    predicted = invoke("predict", "--model", run, "--store", store_path, "--split", "dev", "--format", "audiomos", "--out", answer)
    assert predicted.exit_code == 0, predicted.output
    written = pd.read_csv(answer, header=None, names=["id", "overall", "textual"])
    in_memory = pd.read_csv(run / "eval_predictions.csv")
    np.testing.assert_array_equal(written[["overall", "textual"]].to_numpy(), in_memory[["overall", "textual"]].to_numpy())
    assert invoke("evaluate", "--pred", answer, "--store", store_path, "--split", "dev", "--no-plots").exit_code == 0


def test_predicting_in_batches_from_the_store_gives_the_in_memory_predictions(store_path, stacked_run, monkeypatch):
    import clapmos.heads.runs.fitted

    run = load_run(stacked_run[0])
    store = FeatureStore.open(store_path)
    whole = run.predict(store)
    monkeypatch.setattr(clapmos.heads.runs.fitted, "PREDICT_BATCH", 7)
    pd.testing.assert_frame_equal(run.predict(store), whole, rtol=0, atol=1e-12)


def test_the_run_tells_where_its_frame_heads_listen(store_path, stacked_run):
    run = load_run(stacked_run[0])
    store = FeatureStore.open(store_path)
    ids = store.items("dev")["id"].iloc[:3].tolist()
    table = run.attention(store, "dev", ids=ids)
    assert sorted(table["id"].unique()) == sorted(ids) and set(table["target"]) == {"overall", "textual"}
    np.testing.assert_allclose(table.groupby(["id", "target"])["weight"].sum(), 1.0, atol=1e-9)
    lengths = store.frames("spectral", "dev").lengths[:3]
    assert table[table["target"] == "overall"].groupby("id", sort=False).size().tolist() == lengths.tolist()


def test_xattn_reads_the_prompts_text_vector(store_path, tmp_path):
    store = FeatureStore.open(store_path)
    params = {f"xattn.{k}": v for k, v in {"d_model": 16, "n_heads": 2, "hidden_sizes": (16,), "max_epochs": 2}.items()}
    run = fit_run(store, RunConfig(embedders=["spectral"], heads=["xattn"], targets=["textual"], cv=2, params=params))
    model = run.models["textual"].models_["xattn"][0].named_steps["model"]
    assert model.text_dim_ == 128 and model.n_features_in_ == 256
    attn = fit_run(store, RunConfig(embedders=["spectral"], heads=["attn_mlp"], cv=2, params={k.replace("xattn", "attn_mlp"): v for k, v in params.items()}))
    uses_text = {t: m.models_["attn_mlp"][0].named_steps["model"].use_text for t, m in attn.models.items()}
    assert uses_text == {"overall": False, "textual": True}  # as the default feature blocks


def test_a_store_without_frames_says_which_command_adds_them(corpus, tmp_path):
    plain = tmp_path / "plain.zarr"
    assert invoke("embed", "--corpus", "musiceval", "--root", corpus / "corpus", "--embedder", "spectral", "--out", plain).exit_code == 0
    result = invoke("fit", "--store", plain, "--embedder", "spectral", "--head", "attn_mlp", "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert "reads frame tokens, but" in result.output and "--embedder spectral --frames" in result.output
    assert not (tmp_path / "run").exists()


def test_predict_refuses_frames_of_another_rate_or_none_at_all(store_path, stacked_run, corpus, tmp_path):
    run, _ = stacked_run
    other = tmp_path / "other.zarr"
    shutil.copytree(store_path, other)
    FeatureStore.open(other, mode="r+").group["features/spectral/frames"].attrs["frame_rate"] = 2.5
    result = invoke("predict", "--model", run, "--store", other, "--out", tmp_path / "p.csv")
    assert result.exit_code == 2 and "frame_rate: model 5.0, store 2.5" in result.output
    plain = tmp_path / "plain.zarr"
    assert invoke("embed", "--corpus", "musiceval", "--root", corpus / "corpus", "--embedder", "spectral", "--out", plain).exit_code == 0
    result = invoke("predict", "--model", run, "--store", plain, "--out", tmp_path / "p.csv")
    assert result.exit_code == 2 and "the model reads frame tokens of 'spectral'" in result.output and "--frames" in result.output
    assert not (tmp_path / "p.csv").exists()


def test_a_clip_with_zero_frames_stops_the_fit_naming_it(store_path, tmp_path):
    damaged = tmp_path / "damaged.zarr"
    shutil.copytree(store_path, damaged)
    store = FeatureStore.open(damaged, mode="r+")
    store.group["features/spectral/frames/length"][2] = 0
    no_tokens = [np.zeros((1, 0), dtype=np.float16), np.zeros((1, 0), dtype=np.float32)]
    store.group["features/spectral/frames/check"][2] = row_digests(no_tokens)[0]  # as if embedded with no tokens (else: damaged)
    clip = store.items()["id"].iat[2]
    result = invoke("fit", "--store", damaged, "--embedder", "spectral", "--head", "attn_mlp", "--train-split", "train,dev",
                    "--out", tmp_path / "run", *QUICK)
    assert result.exit_code == 2 and "have zero frame tokens" in result.output and clip in result.output


def test_frame_heads_take_one_embedder_and_a_valid_device(store_path, tmp_path):
    other = tmp_path / "two.zarr"
    shutil.copytree(store_path, other)
    store = FeatureStore.open(other, mode="r+")
    store.prepare_features("copy", 128, 128, {"embedder": "copy"})
    for start in range(0, len(store), store.chunk_rows("copy")):
        rows = slice(start, start + store.chunk_rows("copy"))
        store.write_block("copy", start, store.audio("spectral")[rows], store.text("spectral")[rows])
    result = invoke("fit", "--store", other, "--embedder", "spectral,copy", "--head", "attn_mlp", "--out", tmp_path / "r")
    assert result.exit_code == 2 and "reads one embedder's frame tokens" in result.output
    result = invoke("fit", "--store", store_path, "--embedder", "spectral", "--head", "attn_mlp", "--device", "gpu", "--out", tmp_path / "r")
    assert result.exit_code == 2 and "Invalid value for '--device': 'gpu'" in result.output


def test_attn_mlp_with_the_distribution_output_fits_predicts_and_evaluates(store_path, tmp_path):
    run = tmp_path / "run"
    result = invoke("fit", "--store", store_path, "--embedder", "spectral", "--head", "attn_mlp", "--cv", 2, "--eval-split", "dev",
                    "--param", "attn_mlp.output=distribution", "--param", "attn_mlp.n_bins=9", "--out", run, *QUICK)
    assert result.exit_code == 0, result.output
    model = load_run(run).models["overall"].models_["attn_mlp"][0].named_steps["model"]
    assert model.output == "distribution" and model.bin_centers_.shape == (1, 9)
    store = FeatureStore.open(store_path)
    frames = store.frames("spectral", "dev")
    mean, std = model.predict(frames, return_std=True)
    assert (std > 0).all() and model.predict_distribution(frames).shape == (len(frames), 9)
    answer = tmp_path / "answer.txt"
    predicted = invoke("predict", "--model", run, "--store", store_path, "--split", "dev", "--format", "audiomos", "--out", answer)
    assert predicted.exit_code == 0, predicted.output
    written = pd.read_csv(answer, header=None, names=["id", "overall", "textual"])
    np.testing.assert_array_equal(written[["overall", "textual"]].to_numpy(), pd.read_csv(run / "eval_predictions.csv")[["overall", "textual"]].to_numpy())
    assert invoke("evaluate", "--pred", answer, "--store", store_path, "--split", "dev", "--no-plots").exit_code == 0
    refused = invoke("fit", "--store", store_path, "--embedder", "spectral", "--head", "attn_mlp", "--screening-tau", 2,
                     "--param", "attn_mlp.output=distribution", "--out", tmp_path / "refused")
    assert refused.exit_code == 2 and "--param attn_mlp.output=distribution --screening-tau: The 'screening_tau' parameter" in refused.output
