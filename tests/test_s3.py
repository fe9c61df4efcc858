"""Stores, runs and score caches on object storage, against a real S3-compatible server on the loopback address.

The module starts moto's standalone S3 server (as s3fs's own tests do) and points the AWS
variables at it, so clapmos, s3fs and Dask workers started here all talk to it; it stops with
the module. The same safety as on a local disk: a killed embed resumes to identical arrays,
what clapmos did not write is never touched, and what cannot hold on object storage (a swap by
renaming) is refused with a message.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.errors import ClapmosError
from clapmos.embed.filesystems import WRITING, begin_writing, filesystem
from clapmos.embed.store import FeatureStore
from clapmos.embed.store.seals import row_digests
from tests.conftest import make_corpus
from tests.layouts import write_manifest

from moto.server import ThreadedMotoServer  # moto[server] and s3fs come with the test extra

runner = CliRunner()
N_CLIPS = 150  # three chunks of 64 rows, the last one partial


@pytest.fixture(scope="module", autouse=True)
def s3_server():
    """moto's S3 server on 127.0.0.1 (a free port), the environment pointing at it, and one bucket."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    filesystem("s3://clapmos-test")[0].mkdir("clapmos-test")
    yield f"http://127.0.0.1:{port}"
    s3fs.S3FileSystem.clear_instance_cache()
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("s3")
    corpus = make_corpus(folder / "audio", n=N_CLIPS, seconds=0.05, sample_rate=16000)
    reference = FeatureStore.create(folder / "reference.zarr", corpus)
    embed_corpus(reference, "spectral", progress=False)
    return corpus, reference


def url(name: str) -> str:
    return f"s3://clapmos-test/{name}"


def objects(prefix: str) -> list[str]:
    fs, root = filesystem(prefix)
    fs.invalidate_cache()
    return sorted(fs.find(root))


def assert_same_features(store: FeatureStore, reference: FeatureStore) -> None:
    for read in (FeatureStore.done, FeatureStore.audio, FeatureStore.text):
        np.testing.assert_array_equal(read(store, "spectral"), read(reference, "spectral"))
    assert store.items().equals(reference.items())


def test_a_store_on_s3_holds_the_same_arrays_as_on_disk(corpus):
    data, reference = corpus
    store = FeatureStore.create(url("same.zarr"), data)
    embed_corpus(store, "spectral", progress=False)
    assert_same_features(FeatureStore.open(url("same.zarr")), reference)
    assert not any(WRITING in name for name in objects(url("same.zarr")))  # the ownership record is gone once written


KILLER = """
import os, sys
from clapmos.embed.backends.spectral import SpectralEmbedder
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore

class DiesAfterTwoBlocks(SpectralEmbedder):
    calls = 0
    def embed_audio(self, windows):
        DiesAfterTwoBlocks.calls += 1
        if DiesAfterTwoBlocks.calls > 2 * 64 // 8:
            os._exit(9)  # killed: no cleanup, no exception
        return super().embed_audio(windows)

embed_corpus(FeatureStore.open(sys.argv[1], mode="r+"), DiesAfterTwoBlocks(), progress=False, workers=1)
"""


def test_an_embed_killed_mid_way_resumes_on_s3_to_identical_arrays_without_redoing_rows(corpus):
    data, reference = corpus
    FeatureStore.create(url("killed.zarr"), data)
    killed = subprocess.run([sys.executable, "-c", KILLER, url("killed.zarr")], env=os.environ, capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr[-2000:]
    done = FeatureStore.open(url("killed.zarr")).done("spectral")
    assert 0 < done.sum() < len(done), "the killed run should have written some blocks, not all"
    writable = FeatureStore.open(url("killed.zarr"), mode="r+").group
    writable["features/spectral/audio"][np.flatnonzero(done)] = 0.0  # shows any redo (resealed: else rightly redone as damage)
    zeros = np.zeros((int(done.sum()), writable["features/spectral/audio"].shape[1]), dtype=np.float32)
    writable["features/spectral/check/audio"][np.flatnonzero(done)] = row_digests([zeros])
    embed_corpus(FeatureStore.open(url("killed.zarr"), mode="r+"), "spectral", progress=False)
    audio = FeatureStore.open(url("killed.zarr")).audio("spectral")
    assert (audio[done] == 0).all()
    np.testing.assert_array_equal(audio[~done], reference.audio("spectral")[~done])


def test_a_prefix_clapmos_did_not_write_is_refused_and_left_alone(corpus):
    fs, root = filesystem(url("theirs"))
    fs.pipe_file(f"{root}/notes.txt", b"the user's own object")
    with pytest.raises(ClapmosError, match="not a clapmos store; clapmos never writes"):
        FeatureStore.create(url("theirs"), corpus[0])
    assert objects(url("theirs")) == ["clapmos-test/theirs/notes.txt"]
    assert fs.cat_file(f"{root}/notes.txt") == b"the user's own object"


def test_an_interrupted_store_creation_is_clapmos_s_by_its_record_and_is_started_again(corpus):
    data, reference = corpus
    begin_writing(url("interrupted.zarr"))
    fs, root = filesystem(url("interrupted.zarr"))
    fs.pipe_file(f"{root}/zarr.json", b"{half written")
    with pytest.raises(ClapmosError, match="creation was interrupted"):
        FeatureStore.open(url("interrupted.zarr"))
    store = FeatureStore.create(url("interrupted.zarr"), data)
    embed_corpus(store, "spectral", progress=False)
    assert_same_features(FeatureStore.open(url("interrupted.zarr")), reference)


def test_what_would_rename_folders_is_refused_on_object_storage(corpus, tmp_path):
    data, _ = corpus
    store = FeatureStore.create(url("swaps.zarr"), data)
    embed_corpus(store, "spectral", progress=False)
    with pytest.raises(ClapmosError, match="cannot rename atomically"):
        embed_corpus(store, "spectral", window_s=0.02, overwrite=True, progress=False)
    other = make_corpus(tmp_path / "other", n=5, seconds=0.05, sample_rate=16000)
    with pytest.raises(ClapmosError, match="--rebuild.*cannot rename atomically"):
        FeatureStore.create(url("swaps.zarr"), other, rebuild=True)
    np.testing.assert_array_equal(FeatureStore.open(url("swaps.zarr")).audio("spectral"), corpus[1].audio("spectral"))


def test_cli_embed_fit_and_score_on_s3_urls_give_the_local_numbers(tmp_path):
    root = write_manifest(tmp_path / "data")
    embed = ["embed", "--corpus", "manifest", "--root", str(root), "--embedder", "spectral"]
    fit = ["fit", "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--no-plots"]
    clips = sorted(str(p) for p in (tmp_path / "data").rglob("*.wav"))
    for where, store, run, cache in (("local", str(tmp_path / "s.zarr"), str(tmp_path / "run"), str(tmp_path / "cache")),
                                     ("s3", url("cli/s.zarr"), url("cli/run"), url("cli/cache"))):
        for args in ([*embed, "--out", store], [*fit, "--store", store, "--out", run],
                     ["score", "--model", run, *clips, "--out", str(tmp_path / f"{where}.csv"), "--cache", cache]):
            result = runner.invoke(cli.app, args, catch_exceptions=False)
            assert result.exit_code == 0, f"{args}\n{result.output}"
    assert any(name.endswith("/model.skops") for name in objects(url("cli/run"))) and WRITING not in str(objects(url("cli/run")))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "s3.csv"), pd.read_csv(tmp_path / "local.csv"), check_exact=True)
    again = runner.invoke(cli.app, ["score", "--model", url("cli/run"), *clips, "--out", str(tmp_path / "again.csv"), "--cache", url("cli/cache")])
    assert f"0 clip(s) embedded now, {len(clips)} read from the cache" in again.output
    refused = runner.invoke(cli.app, [*fit, "--store", url("cli/s.zarr"), "--out", url("cli/run")])
    assert refused.exit_code == 2 and "cannot rename atomically" in refused.output


def test_dask_workers_embed_into_a_store_and_a_score_cache_on_s3_like_the_serial_engine(corpus, tmp_path):
    data, reference = corpus
    from clapmos.embed.engines.distributed import DaskEngine, dask_client
    from clapmos.embed.engines.sequence import embed_with
    from clapmos.evaluation.predictor import Predictor
    from clapmos.heads.runs.run import RunConfig, fit_run, save_run

    save_run(fit_run(reference, RunConfig(embedders=["spectral"], heads=["ridge"], cv=2, targets=["overall"])), tmp_path / "run")
    clips = data.items["path"].tolist()
    local = Predictor.from_run(tmp_path / "run", cache=tmp_path / "cache").score(clips)
    store = FeatureStore.create(url("dask.zarr"), data)
    with dask_client(n_workers=2) as client:
        from clapmos.embed.backends import create_embedder

        with DaskEngine(client, create_embedder("spectral"), chunks_per_task=1) as engine:
            embed_with(engine, store, progress=False)
        scored = Predictor.from_run(tmp_path / "run", cache=url("dask-cache"), client=client).score(clips)
    assert_same_features(FeatureStore.open(url("dask.zarr")), reference)
    pd.testing.assert_frame_equal(scored, local, check_exact=True)
    assert any(name.endswith(".zarr/zarr.json") for name in objects(url("dask-cache/shards")))


def test_predict_reads_a_run_and_a_store_on_s3(corpus, tmp_path):
    data, reference = corpus
    from clapmos.embed.filesystems import upload_run
    from clapmos.heads.runs.run import RunConfig, fit_run, save_run

    save_run(fit_run(reference, RunConfig(embedders=["spectral"], heads=["ridge"], cv=2, targets=["overall"])), tmp_path / "run")
    upload_run(tmp_path / "run", url("predict/run"))
    store = FeatureStore.create(url("predict/s.zarr"), data)
    embed_corpus(store, "spectral", progress=False)
    result = runner.invoke(cli.app, ["predict", "--model", url("predict/run"), "--store", url("predict/s.zarr"), "--out", str(tmp_path / "p.csv")],
                           catch_exceptions=False)
    local = runner.invoke(cli.app, ["predict", "--model", str(tmp_path / "run"), "--store", str(reference.path), "--out", str(tmp_path / "l.csv")],
                          catch_exceptions=False)
    assert result.exit_code == 0 and local.exit_code == 0, result.output
    assert (tmp_path / "p.csv").read_text() == (tmp_path / "l.csv").read_text()
