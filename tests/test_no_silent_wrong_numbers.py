"""Inputs that once gave a wrong number without a word now stop with one message (exit 2) naming them.

Non-finite audio and embeddings, a "held-out" split that was trained on, option values that
were silently replaced or accepted, a run with a target's model missing, infinite
predictions, implausible manifest scores.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.backends.spectral import SpectralEmbedder
from clapmos.embed.corpora import read_corpus
from clapmos.embed.errors import ClapmosError
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from tests.layouts import write_wav


def invoke(*args):
    return CliRunner().invoke(cli.app, [str(a) for a in args])


def write_manifest(folder: Path, scores: list[float]) -> Path:
    rows = []
    for k, score in enumerate(scores):
        write_wav(folder / f"c{k}.wav", seconds=0.05, freq=200.0 + 20 * k)
        rows.append({"path": f"c{k}.wav", "text": f"tone {k}", "system": f"S{k % 2}", "mos": score})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo store and a ridge run on it (both targets)."""
    from clapmos.embed.corpora.demo import make_demo_corpus

    folder = tmp_path_factory.mktemp("silent")
    make_demo_corpus(folder / "corpus", n_clips=48, seed=3)
    assert invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--out", folder / "store.zarr").exit_code == 0
    result = invoke("fit", "--store", folder / "store.zarr", "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--out", folder / "run")
    assert result.exit_code == 0, result.output
    return folder


# --------------------------------------------------------------------------- audio and embeddings
def test_audio_with_nan_or_inf_samples_is_named_before_any_work(tmp_path):
    manifest = write_manifest(tmp_path, [1, 2, 3, 4])
    for k, bad in ((1, np.nan), (3, np.inf)):
        audio = np.full(800, 0.1, dtype=np.float32)
        audio[100] = bad
        sf.write(tmp_path / f"c{k}.wav", audio, 16000, subtype="FLOAT")
    result = invoke("embed", "--corpus", "manifest", "--root", manifest, "--embedder", "spectral", "--out", tmp_path / "s.zarr")
    assert result.exit_code == 2, result.output
    assert "2 audio file(s) cannot be used" in result.output
    assert "c1.wav: 1 of 800 samples are not finite" in result.output and "c3.wav: 1 of 800 samples" in result.output
    store = FeatureStore.open(tmp_path / "s.zarr")
    assert store.embedders == [] or not store.done("spectral").any()  # nothing embedded, nothing marked done


class SilenceIsNaN(SpectralEmbedder):
    """An embedder whose numbers go wrong on silent windows (as a model with a bad normalisation would)."""

    def embed_audio(self, windows):
        vectors = super().embed_audio(windows)
        vectors[[not np.any(w) for w in windows]] = np.nan
        return vectors


def test_embeddings_that_are_not_finite_are_never_marked_done(tmp_path):
    manifest = write_manifest(tmp_path, [1, 2, 3])
    sf.write(tmp_path / "c1.wav", np.zeros(800, np.float32), 16000)
    store = FeatureStore.create(tmp_path / "s.zarr", read_corpus("manifest", manifest))
    with pytest.raises(ClapmosError, match=r"(?s)embeddings of 1 clip\(s\) are not finite.*c1: .*c1\.wav"):
        embed_corpus(store, SilenceIsNaN(), progress=False)
    assert not FeatureStore.open(tmp_path / "s.zarr").done("spectral").any()


# --------------------------------------------------------------------------- fit
def test_a_held_out_split_that_is_also_trained_on_is_refused(demo, tmp_path):
    result = invoke("fit", "--store", demo / "store.zarr", "--embedder", "spectral", "--head", "ridge",
                    "--train-split", "train,dev", "--eval-split", "dev", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "--eval-split dev: dev is also in --train-split train,dev" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option", ["--window-s", "--hop-s"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_windows_and_hops_must_be_longer_than_zero(tmp_path, option, value):
    manifest = write_manifest(tmp_path, [1, 2])
    result = invoke("embed", "--corpus", "manifest", "--root", manifest, "--embedder", "spectral", "--out", tmp_path / "s.zarr", option, value)
    assert result.exit_code == 2 and option in result.output and "more than 0 seconds" in result.output
    assert not (tmp_path / "s.zarr").exists()


def test_a_batch_of_zero_windows_is_refused(tmp_path):
    manifest = write_manifest(tmp_path, [1, 2])
    result = invoke("embed", "--corpus", "manifest", "--root", manifest, "--embedder", "spectral", "--out", tmp_path / "s.zarr", "--batch-size", "0")
    assert result.exit_code == 2 and "--batch-size" in result.output
    assert not (tmp_path / "s.zarr").exists()


# --------------------------------------------------------------------------- predict and evaluate
def test_predict_fails_when_a_targets_model_is_missing(demo, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(demo / "run", run)
    shutil.rmtree(run / "model" / "textual")
    result = invoke("predict", "--model", run, "--store", demo / "store.zarr", "--format", "csv", "--out", tmp_path / "p.csv")
    assert result.exit_code == 2 and "the model of target(s) textual is missing" in result.output
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan"])
def test_evaluate_refuses_predictions_that_are_not_finite_naming_the_clips(demo, tmp_path, bad):
    answer = tmp_path / "answer.txt"
    assert invoke("predict", "--model", demo / "run", "--store", demo / "store.zarr", "--split", "dev", "--format", "audiomos", "--out", answer).exit_code == 0
    lines = answer.read_text().splitlines()
    clip = lines[2].split(",")[0]
    lines[2] = f"{clip},{bad},3.0"
    answer.write_text("\n".join(lines) + "\n")
    result = invoke("evaluate", "--pred", answer, "--store", demo / "store.zarr", "--split", "dev")
    assert result.exit_code == 2, result.output
    assert "1 clip(s) have predictions that are not finite numbers" in result.output and f"{clip}: overall = {float(bad)}" in result.output
    assert not (tmp_path / "answer_eval").exists()


# --------------------------------------------------------------------------- manifest scores
def test_implausible_manifest_scores_are_named_in_a_warning(tmp_path, caplog):
    manifest = write_manifest(tmp_path, [1, 2, 3, 4, 5, 4, 3, 2, 1e6, 4, 3, -40, 2, 3, 4, 5, 1, 2, 3, 4])
    with caplog.at_level("WARNING", logger="clapmos.embed.corpora"):
        corpus = read_corpus("manifest", manifest)
    message = "\n".join(r.getMessage() for r in caplog.records)
    assert "2 mos score(s) lie outside 1–5" in message
    assert f"{manifest}:10 mos: 1e+06" in message and f"{manifest}:13 mos: -40" in message
    assert len(corpus) == 20


def test_a_score_range_is_enforced_naming_the_rows(tmp_path):
    manifest = write_manifest(tmp_path, [1, 2, 3, 7, 2])
    result = invoke("embed", "--corpus", "manifest", "--root", manifest, "--embedder", "spectral", "--out", tmp_path / "s.zarr",
                    "--score-range", "mos=1,5")
    assert result.exit_code == 2 and f"{manifest}:5 mos: 7 is outside 1–5" in result.output
    assert not (tmp_path / "s.zarr").exists()
    accepted = invoke("embed", "--corpus", "manifest", "--root", manifest, "--embedder", "spectral", "--out", tmp_path / "s.zarr",
                      "--score-range", "0,10")
    assert accepted.exit_code == 0, accepted.output


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--window-s", "inf", "Invalid value for '--window-s'"),
    ("--hop-s", "inf", "Invalid value for '--hop-s'"),
    ("--hop-s", "1e-9", "must be at least 0.01 s"),
])
def test_windows_that_are_infinite_or_below_10_ms_are_refused_before_the_store_is_touched(tmp_path, option, value, message):
    manifest = write_manifest(tmp_path, [1, 2])
    result = invoke("embed", "--corpus", "manifest", "--root", manifest, "--embedder", "spectral", "--out", tmp_path / "s.zarr", option, value)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.parametrize(("option", "value"), [("--checkpoint", "model.pt"), ("--layer", "3"), ("--model-path", "folder")])
def test_an_option_the_embedder_does_not_read_is_refused_not_ignored(tmp_path, option, value):
    manifest = write_manifest(tmp_path, [1, 2])
    result = invoke("embed", "--corpus", "manifest", "--root", manifest, "--embedder", "spectral", "--out", tmp_path / "s.zarr", option, value)
    assert result.exit_code == 2 and f"{option}: the spectral embedder does not read it" in result.output, result.output
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.parametrize("args", [["--split", ","], ["--param", "alphas=[1,NaN]"]])
def test_an_empty_split_list_or_a_non_finite_param_is_one_message(demo, args):
    command = ["predict", "--model", demo / "run", "--store", demo / "store.zarr", "--out", demo / "p.csv"] if args[0] == "--split" else \
        ["fit", "--store", demo / "store.zarr", "--embedder", "spectral", "--head", "ridge", "--out", demo / "r2"]
    result = invoke(*command, *args)
    assert result.exit_code == 2 and "Traceback" not in result.output and args[0] in result.output, result.output


@pytest.mark.parametrize(("head", "param", "message"), [
    ("mlp", "batch_size=true", "must be a number, not true"),
    ("ridge", 'features__embedders=["clap"]', "embedders must name some of the layout's embedders (spectral)"),
    ("ridge", "scale=5", "--param scale=5"),
    ("dist", "score_range=[1,null]", "score_range must be (low, high)"),
])
def test_param_values_that_once_crashed_mid_fit_are_refused_up_front(demo, head, param, message):
    result = invoke("fit", "--store", demo / "store.zarr", "--embedder", "spectral", "--head", head, "--param", param, "--out", demo / "r3")
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
    assert not (demo / "r3").exists()


# --------------------------------------------------------------------------- list-valued --param settings
@pytest.mark.parametrize("alphas", [[1e6], [0.1, 1.0, 10.0]])
def test_a_list_valued_param_gives_the_run_that_list(demo, alphas, tmp_path):
    from clapmos.heads.runs.run import load_run

    given = "[" + ",".join(repr(a) for a in alphas) + "]"
    result = invoke("fit", "--store", demo / "store.zarr", "--embedder", "spectral", "--head", "ridge", "--cv", "2",
                    "--param", f"ridge.alphas={given}", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    run = load_run(tmp_path / "run")
    for target, ensemble in run.models.items():
        for members in ensemble.models_.values():
            for pipeline in members:
                ridge = pipeline.named_steps["model"]
                assert list(ridge.alphas) == alphas
                assert set(np.atleast_1d(ridge.alpha_)) <= set(alphas), target  # chosen from the list given


def test_a_setting_a_tuple_cannot_hold_is_one_message_naming_it(demo):
    from clapmos.heads.runs.run import RunConfig

    config = RunConfig(embedders=["spectral"], heads=["ridge"], params={"ridge.alphas": (1e6,)})
    with pytest.raises(ClapmosError, match=r"ridge.alphas=\[1000000.0\]: give a list"):
        config.check(FeatureStore.open(demo / "store.zarr"))
