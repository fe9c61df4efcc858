"""Several corpora in one run from the command line: ``fit --store a.zarr --store b.zarr --target-map b:mos=overall``.

Two listening tests rate the same underlying quality ``q`` of tones (``q`` sets the pitch) on
different scales: corpus ``a`` as ``overall = 3 + q`` (a 1–5 scale), corpus ``b`` as
``mos = 50 + 20 q`` (offset and stretch, a 0–100 scale). The run fits the ``aligned`` head on both,
predicts each store on its own scale (also after loading the saved run), refuses a store that is
not one of its corpora unless a scale is named, reports per corpus, and refuses what cannot be
pooled: unmapped targets, and stores whose features were made differently.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy.stats import spearmanr
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.run import load_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")
N, RATE = 90, 16000
SCALES = {"a": ("overall", 3.0, 1.0), "b": ("mos", 50.0, 20.0)}  # corpus -> (target name, offset, stretch)
QUICK = ["--param", "hidden_sizes=[16]", "--param", "lr=0.01", "--param", "max_epochs=150", "--param", "patience=30"]


def invoke(*args):
    return CliRunner().invoke(cli.app, [str(a) for a in args])


def tone_corpus(folder, name: str, seed: int) -> pd.DataFrame:
    """A manifest of N tones whose pitch is their quality q, rated on corpus ``name``'s scale."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    target, offset, stretch = SCALES[name]
    q = rng.uniform(-1.5, 1.5, N)
    t = np.arange(RATE // 2) / RATE
    rows = []
    for i, quality in enumerate(q):
        audio = 0.3 * np.sin(2 * np.pi * 300 * 2 ** (quality + 1.5) * t) + 0.01 * rng.standard_normal(len(t))
        sf.write(folder / f"{name}{i:03d}.wav", audio.astype(np.float32), RATE)
        rows.append({"path": f"{name}{i:03d}.wav", "text": "a tone", "system": f"S{i % 4}", "split": "train" if i < 60 else "dev",
                     target: round(offset + stretch * quality + 0.05 * stretch * rng.normal(), 3), "q": quality})
    table = pd.DataFrame(rows)
    table.drop(columns="q").to_csv(folder / "manifest.csv", index=False)
    return table.assign(id=[f"{name}{i:03d}" for i in range(N)])


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    truth = {}
    for name, seed in (("a", 0), ("b", 1)):
        truth[name] = tone_corpus(root / f"{name}-audio", name, seed)
        result = invoke("embed", "--corpus", "manifest", "--root", root / f"{name}-audio" / "manifest.csv", "--embedder", "spectral",
                        "--out", root / f"{name}.zarr")
        assert result.exit_code == 0, result.output
    result = invoke("fit", "--store", root / "a.zarr", "--store", root / "b.zarr", "--target-map", "b:mos=overall", "--embedder", "spectral",
                    "--features", "audio", "--cv", 3, "--eval-split", "dev", "--no-plots", "--draws", 0, *QUICK, "--out", root / "run")
    assert result.exit_code == 0, result.output
    return root, truth, result.output


def said(result) -> str:
    return " ".join(result.output.split())


def test_unmapped_targets_are_refused_listing_every_stores_targets(corpora):
    root, _, _ = corpora
    result = invoke("fit", "--store", root / "a.zarr", "--store", root / "b.zarr", "--embedder", "spectral", "--out", root / "refused")
    assert result.exit_code != 0
    message = said(result)
    assert f"{root / 'b.zarr'} has no target overall" in message and "--target-map b:mos=overall" in message
    assert f"a ({root / 'a.zarr'}): overall" in message and f"b ({root / 'b.zarr'}): mos" in message
    assert not (root / "refused").exists()


def test_stores_embedded_differently_are_refused_naming_both(corpora):
    root, _, _ = corpora
    result = invoke("embed", "--corpus", "manifest", "--root", root / "b-audio" / "manifest.csv", "--embedder", "spectral", "--window-s", "5",
                    "--out", root / "wide.zarr")
    assert result.exit_code == 0, result.output
    result = invoke("fit", "--store", root / "a.zarr", "--store", root / "wide.zarr", "--target-map", "wide:mos=overall",
                    "--embedder", "spectral", "--out", root / "refused")
    assert result.exit_code != 0
    assert f"--store {root / 'wide.zarr'}: its 'spectral' features were made differently from those of --store {root / 'a.zarr'}" in said(result)


def test_heads_that_would_pool_the_scales_are_refused(corpora):
    root, _, _ = corpora
    result = invoke("fit", "--store", root / "a.zarr", "--store", root / "b.zarr", "--target-map", "b:mos=overall", "--embedder", "spectral",
                    "--head", "ridge", "--out", root / "refused")
    assert result.exit_code != 0 and "--head ridge would pool the corpora's scales" in said(result)


def test_each_corpus_is_predicted_on_its_own_scale_after_loading_the_run(corpora):
    root, truth, _ = corpora
    run = load_run(root / "run")
    assert run.config.heads == ["aligned"] and run.corpora == ["a", "b"]
    assert run.config.corpora["b"]["targets"] == {"overall": "mos"}
    for name, (target, offset, stretch) in SCALES.items():
        predicted = run.predict(FeatureStore.open(root / f"{name}.zarr"), "dev")  # under this corpus's own target name
        assert list(predicted.columns) == ["id", "system", target, f"{target}_std"]
        dev = truth[name].set_index("id").loc[predicted["id"]]
        on_scale = offset + stretch * dev["q"].to_numpy()
        rmse = np.sqrt(np.mean((predicted[target].to_numpy() - on_scale) ** 2))
        # on this corpus's scale, not the other's (the other scale would be off by its offset or 20-fold stretch); over four
        # data seeds this fit's RMSE / stretch is 0.20 on average on either corpus (0.15 to 0.25; std(q) is about 0.85)
        assert rmse < 0.4 * stretch * dev["q"].std()
        assert spearmanr(predicted[target], dev["q"]).statistic > 0.9
    # the map learnt for b: b's score = shift + stretch · a's, the truth 50 + 20 (q) against 3 + q: stretch 20, shift -10
    stretches = [model[-1].stretch_[1, 0] for model in run.models["overall"].models_["aligned"]]
    assert np.mean(stretches) == pytest.approx(20.0, rel=0.3)


def test_predict_on_the_command_line_uses_the_stores_corpus_and_refuses_an_unknown_store(corpora):
    root, _, _ = corpora
    for name in ("a", "b"):
        result = invoke("predict", "--model", root / "run", "--store", root / f"{name}.zarr", "--split", "dev", "--out", root / f"{name}.csv")
        assert result.exit_code == 0, result.output
    a, b = pd.read_csv(root / "a.csv"), pd.read_csv(root / "b.csv")
    assert 1 < a["overall"].mean() < 5 and 20 < b["mos"].mean() < 80
    shutil.copytree(root / "b.zarr", root / "copy.zarr")  # the same clips, but not a store the run was fitted on: no known scale
    unknown = invoke("predict", "--model", root / "run", "--store", root / "copy.zarr", "--split", "dev", "--out", root / "copy.csv")
    assert unknown.exit_code != 0 and "is none of the stores this run was fitted on" in said(unknown) and "--corpus a (the reference)" in said(unknown)
    assert not (root / "copy.csv").exists()
    named = invoke("predict", "--model", root / "run", "--store", root / "copy.zarr", "--split", "dev", "--corpus", "a", "--out", root / "b-as-a.csv")
    assert named.exit_code == 0, named.output
    as_a = pd.read_csv(root / "b-as-a.csv")  # b's clips on a's scale: (b − 50)/20 + 3 by the truth
    assert np.sqrt(np.mean((as_a["overall"] - ((b["mos"] - 50) / 20 + 3)) ** 2)) < 0.2  # a's scale spans 1.5–4.5


def test_the_fit_reports_every_corpus_on_its_own_scale(corpora):
    root, _, output = corpora
    assert "corpus a, on its own scale: out-of-fold" in output and "corpus b, on its own scale: held-out dev" in output
    for name, (target, _, _) in SCALES.items():  # each under its own target name
        metrics = json.loads((root / "run" / "corpora" / name / "metrics.json").read_text())
        assert metrics["eval"]["utterance"][target]["SRCC"] > 0.9
        assert metrics["cv"]["utterance"][target]["SRCC"] > 0.8
    held_out_b = json.loads((root / "run" / "corpora" / "b" / "metrics.json").read_text())["eval"]["utterance"]["mos"]["MSE"]
    assert held_out_b < (0.25 * 20) ** 2 * 3  # on b's scale (a's would be ~50² off)


def test_a_saved_run_of_several_corpora_predicts_as_before_saving(corpora, tmp_path):
    from clapmos.heads.runs.corpora import PooledStores, corpora_config, parse_target_maps
    from clapmos.heads.runs.run import RunConfig, fit_run, save_run

    root, _, _ = corpora
    stores = {name: FeatureStore.open(root / f"{name}.zarr") for name in ("a", "b")}
    config = RunConfig(embedders=["spectral"], heads=["aligned"], features=["audio"], cv=2, targets=["overall"],
                       params={"hidden_sizes": [8], "max_epochs": 5}, corpora=corpora_config(stores, ["overall"], parse_target_maps(["b:mos=overall"])))
    run = fit_run(PooledStores(stores, config.corpora), config)
    assert run.oof["corpus"].tolist() == ["a"] * 60 + ["b"] * 60
    save_run(run, tmp_path / "run")
    loaded = load_run(tmp_path / "run")
    assert loaded.config.corpora == config.corpora and loaded.provenance["corpora"]["b"]["store"] == str(root / "b.zarr")
    for name, store in stores.items():
        pd.testing.assert_frame_equal(loaded.predict(store, "dev"), run.predict(store, "dev"))
    assert not np.allclose(run.predict(stores["b"], "dev", corpus="a")["overall"], run.predict(stores["b"], "dev")["mos"])


def test_evaluate_scores_a_corpus_predictions_against_its_own_store(corpora):
    root, _, _ = corpora
    result = invoke("predict", "--model", root / "run", "--store", root / "b.zarr", "--split", "dev", "--out", root / "b-eval.csv")
    assert result.exit_code == 0, result.output
    result = invoke("evaluate", "--pred", root / "b-eval.csv", "--store", root / "b.zarr", "--split", "dev", "--draws", 0, "--no-plots",
                    "--out-dir", root / "b-eval")
    assert result.exit_code == 0, result.output
    results = pd.read_csv(root / "b-eval" / "results.csv")
    assert set(results["target"]) == {"mos"}


def test_score_flags_predictions_against_the_reference_corpus_range_not_the_pooled_one(corpora):
    from clapmos.evaluation.predictor import Predictor

    root, truth, _ = corpora
    run = load_run(root / "run")
    trained = truth["a"].query("split == 'train'")["overall"]
    assert run.corpora[0] == "a"
    assert Predictor.from_run(run).training_range("overall") == (trained.min(), trained.max())  # a's 1–5 scale, not b's 0–100 pooled in
