"""`score` embeds with the run's own windows: for a run embedded with a non-default window and hop on clips
of several windows, `score` gives exactly what `embed` (with those windows) + `predict` give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.corpora.demo import make_demo_corpus
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.run import load_run

WINDOWS = ["--window-s", "1.2", "--hop-s", "0.5"]  # the spectral embedder's default: 10 s windows, hop = window


def invoke(*args):
    result = CliRunner().invoke(cli.app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score_windows")
    make_demo_corpus(folder / "corpus", n_clips=24, seed=3)
    invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", *WINDOWS, "--out", folder / "store.zarr")
    invoke("fit", "--store", folder / "store.zarr", "--embedder", "spectral", "--head", "ridge", "--cv", 2, "--out", folder / "run")
    return folder


def embed_and_predict(run_folder, paths, out, *windows):
    manifest = pd.DataFrame({"id": [f"c{i}" for i in range(len(paths))], "path": paths, "text": ""})
    manifest.to_csv(out / "clips.csv", index=False)
    invoke("embed", "--corpus", "manifest", "--root", out / "clips.csv", "--embedder", "spectral", *windows, "--out", out / "s.zarr")
    return load_run(run_folder).predict(FeatureStore.open(out / "s.zarr"))


def test_score_uses_the_runs_window_and_hop_on_clips_of_several_windows(run, tmp_path):
    wavs = sorted((run / "corpus" / "wav").glob("*.wav"))[:8]
    durations = [sf.info(p).duration for p in wavs]
    assert min(durations) > 1.2 + 0.5  # every clip spans at least three overlapping windows
    invoke("score", "--model", run / "run", *wavs, "--out", tmp_path / "scores.csv")
    scores = pd.read_csv(tmp_path / "scores.csv", float_precision="round_trip")
    (tmp_path / "same").mkdir()
    expected = embed_and_predict(run / "run", [str(p) for p in wavs], tmp_path / "same", *WINDOWS)
    np.testing.assert_array_equal(scores[["overall", "overall_std"]].to_numpy(), expected[["overall", "overall_std"]].to_numpy())
    invoke("embed", "--corpus", "manifest", "--root", tmp_path / "same" / "clips.csv", "--embedder", "spectral", "--out", tmp_path / "default.zarr")
    default, windowed = FeatureStore.open(tmp_path / "default.zarr").audio("spectral"), FeatureStore.open(tmp_path / "same" / "s.zarr").audio("spectral")
    assert np.abs(default - windowed).max() > 1e-3  # the windows matter: with the defaults the features differ
