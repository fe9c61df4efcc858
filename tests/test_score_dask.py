"""`score` on Dask workers: the serial engine's scores bit for bit, each clip embedded once, segments
honoured, a killed worker's clips redone, an interrupted score finished by the next one."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.engines import sequence
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.engines.score_inputs import read_score_inputs
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore
from clapmos.evaluation.predictor import Predictor
from clapmos.heads.runs.run import RunConfig, fit_run, save_run
from tests.conftest import make_corpus
from tests.dask_embedders import BATCHES_PER_BLOCK, Counting, DiesOnce, StopsAfter

N_CLIPS = 2000


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, silence_logs=logging.ERROR, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            yield client


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """A ridge run on `spectral`, 2,000 clips to score (a list: every third row a segment), and the serial engine's scores."""
    folder = tmp_path_factory.mktemp("score_dask")
    store = FeatureStore.create(folder / "train.zarr", make_corpus(folder / "train", n=24, seconds=0.2, sample_rate=16000))
    embed_corpus(store, "spectral", progress=False)
    save_run(fit_run(store, RunConfig(embedders=["spectral"], heads=["ridge"], cv=2, targets=["overall"])), folder / "run")
    make_corpus(folder / "clips", n=N_CLIPS, seconds=0.05, sample_rate=16000, seed=1)
    paths = sorted((folder / "clips").glob("*.wav"))
    segment = np.arange(N_CLIPS) % 3 == 0
    listing = pd.DataFrame({"path": [str(p) for p in paths], "start_s": np.where(segment, 0.01, np.nan),
                            "end_s": np.where(segment, 0.04, np.nan)})
    listing.to_csv(folder / "clips.csv", index=False)
    serial = Predictor.from_run(folder / "run", cache=folder / "serial_cache")
    reference = serial.score_inputs(read_score_inputs([folder / "clips.csv"]))
    assert reference.embedded == N_CLIPS
    return folder, reference.scores


def inputs(folder: Path) -> pd.DataFrame:
    return read_score_inputs([folder / "clips.csv"])


def with_embedder(monkeypatch, model) -> None:
    """Predictors build ``model`` (a stand-in of the run's `spectral`) instead of the run's own."""
    monkeypatch.setattr(Predictor, "_build", lambda self, embedder: model)


def test_dask_workers_score_2000_clips_like_the_serial_engine_each_clip_embedded_once(client, setting, tmp_path, monkeypatch):
    folder, reference = setting
    log = tmp_path / "windows.log"
    with_embedder(monkeypatch, Counting(str(log)))
    advanced = []
    progress = sequence.EmbedProgress

    class Recorded(progress):
        def __enter__(self):
            advanced.append([self.total, self.completed])
            inner = super().__enter__()
            return lambda n: (advanced.append(n), inner(n))

    monkeypatch.setattr(sequence, "EmbedProgress", Recorded)
    result = Predictor.from_run(folder / "run", cache=tmp_path / "cache", client=client).score_inputs(inputs(folder))
    pd.testing.assert_frame_equal(result.scores, reference, check_exact=True)
    assert result.embedded == N_CLIPS
    windows = log.read_text().split()
    assert len(windows) == N_CLIPS == len(set(windows)), "a clip was embedded twice (or not at all)"
    (total, done_before), *steps = advanced
    assert total == N_CLIPS and done_before == 0 and sum(steps) == N_CLIPS and len(steps) > 1  # one step per task, from both workers
    shard, = (tmp_path / "cache" / "shards").glob("*.zarr")
    assert FeatureStore.open(shard).segments() is not None  # the workers were given segments


def test_a_worker_killed_mid_score_has_its_clips_redone_to_the_same_scores(client, setting, tmp_path, monkeypatch):
    folder, reference = setting
    marker = tmp_path / "died"
    with_embedder(monkeypatch, DiesOnce(str(marker)))
    result = Predictor.from_run(folder / "run", cache=tmp_path / "cache", client=client).score_inputs(inputs(folder))
    assert marker.exists(), "no worker died: the test did not test anything"
    pd.testing.assert_frame_equal(result.scores, reference, check_exact=True)


def test_an_interrupted_dask_score_is_finished_by_the_next_without_embedding_again(client, setting, tmp_path, monkeypatch):
    folder, reference = setting
    with_embedder(monkeypatch, StopsAfter(2 * BATCHES_PER_BLOCK))
    with pytest.raises(ClapmosError, match="stopped on purpose"):
        Predictor.from_run(folder / "run", cache=tmp_path / "cache", client=client).score_inputs(inputs(folder))
    log = tmp_path / "windows.log"
    with_embedder(monkeypatch, Counting(str(log)))
    result = Predictor.from_run(folder / "run", cache=tmp_path / "cache", client=client).score_inputs(inputs(folder))
    pd.testing.assert_frame_equal(result.scores, reference, check_exact=True)
    redone = len(log.read_text().split())
    assert 0 < redone < N_CLIPS, "the rerun should embed only what the interrupted one left"


def test_cli_score_engine_dask_equals_the_local_engine(setting, tmp_path):
    folder, _ = setting
    clips = sorted((folder / "clips").glob("*.wav"))[:150]
    runner = CliRunner()
    local = runner.invoke(cli.app, ["score", "--model", str(folder / "run"), *map(str, clips), "--out", str(tmp_path / "local.csv")],
                          catch_exceptions=False)
    dask = runner.invoke(cli.app, ["score", "--model", str(folder / "run"), *map(str, clips), "--out", str(tmp_path / "dask.csv"),
                                   "--cache", str(tmp_path / "dask_cache"), "--engine", "dask", "--n-workers", "2"], catch_exceptions=False)
    assert local.exit_code == 0 and dask.exit_code == 0, dask.output
    assert "150 clip(s) embedded now" in dask.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "dask.csv"), pd.read_csv(tmp_path / "local.csv"), check_exact=True)


def test_cli_score_refuses_cluster_options_without_engine_dask(setting, tmp_path):
    folder, _ = setting
    clip = next((folder / "clips").glob("*.wav"))
    result = CliRunner().invoke(cli.app, ["score", "--model", str(folder / "run"), str(clip), "--out", str(tmp_path / "s.csv"), "--n-workers", "2"])
    assert result.exit_code != 0 and "--engine dask" in result.output
    assert not (tmp_path / "s.csv").exists()
