"""The Dask engine writes the same store as the serial one (frame tokens too), survives a dead worker, and resumes across engines."""

from __future__ import annotations

import importlib
import logging
import sys

import numpy as np
import pytest
from distributed import LocalCluster
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.engines.distributed import embed_corpus_dask, task_ranges
from clapmos.embed.errors import ClapmosError
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from clapmos.embed.store.schema import FEATURE_CHUNK
from tests.conftest import make_corpus
from tests.dask_embedders import BATCHES_PER_BLOCK, BadCheckpoint, DiesOnce, StopsAfter
from tests.layouts import write_manifest

N_CLIPS = 3 * FEATURE_CHUNK + 10  # four blocks, the last one partial
@pytest.fixture(scope="module")
def scheduler():
    """One 2-worker LocalCluster for the module (process workers with nannies, as the CLI starts)."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, silence_logs=logging.ERROR, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def corpus_and_reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distributed")
    corpus = make_corpus(folder / "audio", n=N_CLIPS, seconds=0.05, sample_rate=16000)
    reference = FeatureStore.create(folder / "reference.zarr", corpus)
    embed_corpus(reference, "spectral", progress=False)
    return corpus, reference


@pytest.fixture(scope="module")
def frames_reference(corpus_and_reference, tmp_path_factory):
    corpus, _ = corpus_and_reference
    reference = FeatureStore.create(tmp_path_factory.mktemp("frames") / "reference.zarr", corpus)
    embed_corpus(reference, "spectral", progress=False, frames=True)
    return reference


def assert_same_store(store: FeatureStore, reference: FeatureStore) -> None:
    for read in (FeatureStore.done, FeatureStore.audio, FeatureStore.text):
        np.testing.assert_array_equal(read(store, "spectral"), read(reference, "spectral"))
    assert store.has_frames("spectral") == reference.has_frames("spectral")
    if reference.has_frames("spectral"):
        for name in ("values", "time", "start", "length", "done"):
            key = f"features/spectral/frames/{name}"
            np.testing.assert_array_equal(store.group[key][:], reference.group[key][:], err_msg=name)
        assert store.frame_attrs("spectral") == reference.frame_attrs("spectral")
    assert store.items().equals(reference.items())
    ours, theirs = store.embedder_attrs("spectral"), reference.embedder_attrs("spectral")
    assert {k: v for k, v in ours.items() if k != "created"} == {k: v for k, v in theirs.items() if k != "created"}


def tamper_done_rows(store: FeatureStore) -> np.ndarray:
    """Overwrite the rows already done with zeros, so a later run that recomputed them would show.

    Their checksums are rewritten to match (else the zeros are damage, which ``embed`` rightly redoes)."""
    from clapmos.embed.store.seals import row_digests

    done = store.done("spectral")
    assert 0 < done.sum() < len(done), "the interrupted run should have written some rows, not all"
    rows = np.flatnonzero(done)
    store.group["features/spectral/audio"][rows] = 0.0
    zeros = np.zeros((len(rows), store.group["features/spectral/audio"].shape[1]), dtype=np.float32)
    store.group["features/spectral/check/audio"][rows] = row_digests([zeros])
    return done


def assert_finished_only_missing_rows(store: FeatureStore, reference: FeatureStore, done_before: np.ndarray) -> None:
    audio = store.audio("spectral")
    assert (audio[done_before] == 0).all()
    np.testing.assert_array_equal(audio[~done_before], reference.audio("spectral")[~done_before])
    np.testing.assert_array_equal(store.text("spectral"), reference.text("spectral"))


def test_two_dask_workers_write_the_same_store_as_the_serial_engine(scheduler, corpus_and_reference, tmp_path):
    corpus, reference = corpus_and_reference
    store = FeatureStore.create(tmp_path / "dask.zarr", corpus)
    embed_corpus_dask(store, "spectral", scheduler=scheduler, chunks_per_task=1, progress=False)
    assert_same_store(FeatureStore.open(tmp_path / "dask.zarr"), reference)


def test_dask_workers_write_the_same_frame_tokens_as_the_serial_engine(scheduler, corpus_and_reference, frames_reference, tmp_path):
    corpus, _ = corpus_and_reference
    store = FeatureStore.create(tmp_path / "dask.zarr", corpus)
    embed_corpus_dask(store, "spectral", scheduler=scheduler, chunks_per_task=1, progress=False, frames=True)
    assert_same_store(FeatureStore.open(tmp_path / "dask.zarr"), frames_reference)


def test_frames_of_a_serial_run_interrupted_are_finished_by_dask(scheduler, corpus_and_reference, frames_reference, tmp_path):
    corpus, _ = corpus_and_reference
    store = FeatureStore.create(tmp_path / "s.zarr", corpus)
    with pytest.raises(ClapmosError):
        embed_corpus(store, StopsAfter(2 * BATCHES_PER_BLOCK), progress=False, frames=True)
    assert 0 < store.frames_done("spectral").sum() < len(store)
    embed_corpus_dask(store, "spectral", scheduler=scheduler, chunks_per_task=1, progress=False, frames=True)
    assert_same_store(FeatureStore.open(tmp_path / "s.zarr"), frames_reference)


def test_a_worker_that_dies_mid_task_has_its_rows_redone_to_the_same_values(scheduler, corpus_and_reference, tmp_path):
    corpus, reference = corpus_and_reference
    marker = tmp_path / "died"
    store = FeatureStore.create(tmp_path / "dask.zarr", corpus)
    embed_corpus_dask(store, DiesOnce(str(marker)), scheduler=scheduler, chunks_per_task=2, progress=False)
    assert marker.exists(), "no worker died: the test did not test anything"
    assert_same_store(FeatureStore.open(tmp_path / "dask.zarr"), reference)


def test_a_serial_run_interrupted_is_finished_by_dask_without_redoing_rows(scheduler, corpus_and_reference, tmp_path):
    corpus, reference = corpus_and_reference
    store = FeatureStore.create(tmp_path / "s.zarr", corpus)
    with pytest.raises(ClapmosError):
        embed_corpus(store, StopsAfter(2 * BATCHES_PER_BLOCK), progress=False)
    done_before = tamper_done_rows(store)
    embed_corpus_dask(store, "spectral", scheduler=scheduler, chunks_per_task=1, progress=False)
    assert_finished_only_missing_rows(FeatureStore.open(tmp_path / "s.zarr"), reference, done_before)


def test_a_dask_run_interrupted_is_finished_by_the_serial_engine_without_redoing_rows(scheduler, corpus_and_reference, tmp_path):
    corpus, reference = corpus_and_reference
    store = FeatureStore.create(tmp_path / "s.zarr", corpus)
    with pytest.raises(ClapmosError, match="stopped on purpose"):  # a worker's error arrives as the user's message
        embed_corpus_dask(store, StopsAfter(BATCHES_PER_BLOCK), scheduler=scheduler, chunks_per_task=1, progress=False)
    done_before = tamper_done_rows(store)
    embed_corpus(store, "spectral", progress=False)
    assert_finished_only_missing_rows(FeatureStore.open(tmp_path / "s.zarr"), reference, done_before)


def test_an_overwrite_by_dask_workers_is_built_beside_the_old_features_and_swapped_in(scheduler, corpus_and_reference, tmp_path):
    corpus, reference = corpus_and_reference
    store = FeatureStore.create(tmp_path / "s.zarr", corpus)
    embed_corpus(store, "spectral", window_s=0.02, progress=False)
    old = store.paired("spectral")
    with pytest.raises(ClapmosError, match="stopped on purpose"):
        embed_corpus_dask(store, StopsAfter(BATCHES_PER_BLOCK), scheduler=scheduler, chunks_per_task=1, overwrite=True, progress=False)
    np.testing.assert_array_equal(FeatureStore.open(tmp_path / "s.zarr").paired("spectral"), old)  # untouched meanwhile
    embed_corpus_dask(store, "spectral", scheduler=scheduler, chunks_per_task=1, overwrite=True, progress=False)
    assert_same_store(FeatureStore.open(tmp_path / "s.zarr"), reference)


def test_a_model_that_fails_to_load_on_the_workers_is_reported_before_any_row(scheduler, corpus_and_reference, tmp_path):
    corpus, _ = corpus_and_reference
    store = FeatureStore.create(tmp_path / "s.zarr", corpus)
    with pytest.raises(ClapmosError, match="model.pt: not a checkpoint"):
        embed_corpus_dask(store, BadCheckpoint(), scheduler=scheduler, progress=False)
    assert store.embedders == []


def test_cli_engine_dask_on_a_local_cluster_equals_the_serial_cli(tmp_path):
    root = write_manifest(tmp_path / "data")
    common = ["embed", "--corpus", "manifest", "--root", str(root), "--embedder", "spectral"]
    runner = CliRunner()
    serial = runner.invoke(cli.app, [*common, "--out", str(tmp_path / "serial.zarr")], catch_exceptions=False)
    dask = runner.invoke(
        cli.app, [*common, "--out", str(tmp_path / "dask.zarr"), "--engine", "dask", "--n-workers", "2"], catch_exceptions=False
    )
    assert serial.exit_code == 0 and dask.exit_code == 0, dask.output
    assert_same_store(FeatureStore.open(tmp_path / "dask.zarr"), FeatureStore.open(tmp_path / "serial.zarr"))


def test_cli_scheduler_option_uses_a_running_cluster_that_sees_relative_paths_resolved(scheduler, tmp_path, monkeypatch):
    write_manifest(tmp_path / "data")
    monkeypatch.chdir(tmp_path)  # the workers were started in another folder
    common = ["embed", "--corpus", "manifest", "--root", "data/manifest.csv", "--embedder", "spectral"]
    runner = CliRunner()
    assert runner.invoke(cli.app, [*common, "--out", "serial.zarr"], catch_exceptions=False).exit_code == 0
    dask = runner.invoke(cli.app, [*common, "--out", "dask.zarr", "--engine", "dask", "--scheduler", scheduler], catch_exceptions=False)
    assert dask.exit_code == 0, dask.output
    assert_same_store(FeatureStore.open(tmp_path / "dask.zarr"), FeatureStore.open(tmp_path / "serial.zarr"))


def test_cli_refuses_cluster_options_without_engine_dask(tmp_path):
    root = write_manifest(tmp_path / "data")
    result = CliRunner().invoke(
        cli.app,
        ["embed", "--corpus", "manifest", "--root", str(root), "--embedder", "spectral", "--out", str(tmp_path / "s.zarr"), "--n-workers", "2"],
    )
    assert result.exit_code == 2 and "--engine dask" in result.output
    assert not (tmp_path / "s.zarr").exists()


def test_without_dask_installed_the_engine_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    monkeypatch.delitem(sys.modules, "clapmos.embed.engines.distributed")
    with pytest.raises(ClapmosError, match=r"pip install 'clapmos\[dask\]'"):
        importlib.import_module("clapmos.embed.engines.distributed")


@given(st.lists(st.booleans(), min_size=1, max_size=40), st.integers(1, 5))
def test_task_ranges_cover_exactly_the_pending_blocks_in_whole_chunks(pending, chunks_per_task):
    step, n = 4, 4 * 40 - 3
    blocks = [(i * step, min((i + 1) * step, n)) for i, todo in enumerate(pending) if todo]
    ranges = task_ranges(blocks, chunks_per_task)
    covered = [row for start, stop in ranges for row in range(start, stop)]
    assert covered == [row for start, stop in blocks for row in range(start, stop)]
    assert all(start % step == 0 and (stop - start) <= chunks_per_task * step for start, stop in ranges)


def test_dask_workers_embed_each_rows_segment_like_the_serial_engine(scheduler, corpus_and_reference, tmp_path):
    corpus, _ = corpus_and_reference
    start = np.where(np.arange(N_CLIPS) % 2 == 0, 0.01, np.nan)
    end = np.where(np.arange(N_CLIPS) % 3 == 0, 0.03, np.nan)
    stores = []
    for name in ("serial", "dask"):
        store = FeatureStore.create(tmp_path / f"{name}.zarr", corpus)
        store.write_segments(start, end)
        stores.append(store)
    embed_corpus(stores[0], "spectral", progress=False)
    embed_corpus_dask(stores[1], "spectral", scheduler=scheduler, chunks_per_task=1, progress=False)
    assert_same_store(FeatureStore.open(tmp_path / "dask.zarr"), FeatureStore.open(tmp_path / "serial.zarr"))
    whole = corpus_and_reference[1].audio("spectral")
    cut = ~(np.isnan(start) & np.isnan(end))
    assert not np.isclose(stores[1].audio("spectral")[cut], whole[cut]).all(axis=1).any()  # the segments were embedded, not the files
