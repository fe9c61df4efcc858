"""`cli.py embed` and `cli.py info` on every corpus layout, and what users see on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.store import FeatureStore
from tests.layouts import write_manifest, write_musiceval_eval, write_musiceval_phase1, write_xacle

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize(
    ("corpus", "make", "splits", "targets"),
    [
        ("musiceval", write_musiceval_phase1, {"train", "dev"}, ["overall", "textual"]),
        ("musiceval-eval", write_musiceval_eval, {"eval"}, ["overall", "textual"]),
        ("xacle", write_xacle, {"train", "validation", "test"}, ["alignment"]),
        ("manifest", write_manifest, {"train", "test"}, ["mos"]),
    ],
)
def test_every_layout_embeds_into_a_store_that_info_describes(tmp_path, corpus, make, splits, targets):
    root = make(tmp_path / "data")
    result = invoke("embed", "--corpus", corpus, "--root", root, "--embedder", "spectral", "--out", tmp_path / "s.zarr")
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "s.zarr")
    assert set(store.splits) == splits and store.targets == targets
    assert store.paired("spectral").shape == (len(store), 256)
    info = invoke("info", tmp_path / "s.zarr")
    assert info.exit_code == 0
    assert f"corpus     {corpus}" in info.output and "spectral: audio 128-d, text 128-d" in info.output


def test_split_option_keeps_only_those_splits(tmp_path):
    root = write_xacle(tmp_path / "data")
    result = invoke("embed", "--corpus", "xacle", "--root", root, "--split", "validation", "--embedder", "spectral", "--out", tmp_path / "s.zarr")
    assert result.exit_code == 0, result.output
    assert FeatureStore.open(tmp_path / "s.zarr").splits == ["validation"]


def test_bad_input_is_one_message_and_exit_status_2_without_traceback(tmp_path):
    root = write_musiceval_phase1(tmp_path / "data")
    for wav in sorted((root / "wav").glob("*.wav"))[:2]:
        wav.unlink()
    result = invoke("embed", "--corpus", "musiceval", "--root", root, "--embedder", "spectral", "--out", tmp_path / "s.zarr")
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
    assert "2 " in result.output  # both missing files are counted


def test_embedding_other_items_into_an_existing_store_needs_rebuild(tmp_path):
    first = write_xacle(tmp_path / "a")
    other = write_manifest(tmp_path / "b")
    assert invoke("embed", "--corpus", "xacle", "--root", first, "--embedder", "spectral", "--out", tmp_path / "s.zarr").exit_code == 0
    refused = invoke("embed", "--corpus", "manifest", "--root", other, "--embedder", "spectral", "--out", tmp_path / "s.zarr")
    assert refused.exit_code == 2 and "--rebuild" in refused.output
    assert FeatureStore.open(tmp_path / "s.zarr").corpus == "xacle"
    still = invoke("embed", "--corpus", "manifest", "--root", other, "--embedder", "spectral", "--out", tmp_path / "s.zarr", "--overwrite")
    assert still.exit_code == 2 and "--rebuild" in still.output  # --overwrite replaces features, never the item list
    accepted = invoke("embed", "--corpus", "manifest", "--root", other, "--embedder", "spectral", "--out", tmp_path / "s.zarr", "--rebuild")
    assert accepted.exit_code == 0, accepted.output
    assert FeatureStore.open(tmp_path / "s.zarr").corpus == "manifest"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "s.zarr"]  # nothing left beside it


def test_second_run_adds_nothing_and_changes_nothing(tmp_path):
    root = write_musiceval_phase1(tmp_path / "data")
    args = ("embed", "--corpus", "musiceval", "--root", root, "--embedder", "spectral", "--out", tmp_path / "s.zarr")
    assert invoke(*args).exit_code == 0
    before = FeatureStore.open(tmp_path / "s.zarr").paired("spectral")
    assert invoke(*args).exit_code == 0
    np.testing.assert_array_equal(FeatureStore.open(tmp_path / "s.zarr").paired("spectral"), before)


def test_unknown_embedder_and_corpus_are_named(tmp_path):
    root = write_manifest(tmp_path / "data")
    bad_embedder = invoke("embed", "--corpus", "manifest", "--root", root, "--embedder", "nope", "--out", tmp_path / "s.zarr")
    assert bad_embedder.exit_code == 2 and "--embedder 'nope': unknown embedder" in bad_embedder.output
    bad_corpus = invoke("embed", "--corpus", "nope", "--root", root, "--embedder", "spectral", "--out", tmp_path / "t.zarr")
    assert bad_corpus.exit_code == 2 and "--corpus 'nope': unknown corpus" in bad_corpus.output


def test_info_lists_the_registered_embedders():
    result = invoke("info", "--embedders")
    assert result.exit_code == 0 and "spectral" in result.output


def test_verbose_shows_clapmos_debug_lines_and_not_its_libraries(tmp_path):
    import subprocess
    import sys

    root = write_manifest(tmp_path / "data")
    args = ["embed", "--corpus", "manifest", "--root", str(root), "--embedder", "spectral", "--out", str(tmp_path / "s.zarr")]
    assert invoke(*args).exit_code == 0
    again = subprocess.run([sys.executable, str(Path(cli.__file__)), "-v", *args], check=True, capture_output=True, text=True)
    assert "clapmos.embed.engines.sequence: " in again.stderr and "every row of spectral is already embedded" in again.stderr
    assert not [line for line in again.stderr.splitlines() if line.startswith(("DEBUG", "INFO")) and " clapmos." not in line]


def test_output_piped_to_a_file_is_not_wrapped(tmp_path):
    import subprocess
    import sys

    root = write_manifest(tmp_path / ("a-rather-long-folder-name-" * 3))
    store = tmp_path / ("store-with-a-long-name-" * 3 + ".zarr")
    assert invoke("embed", "--corpus", "manifest", "--root", root, "--embedder", "spectral", "--out", store).exit_code == 0
    shown = subprocess.run([sys.executable, str(Path(cli.__file__)), "info", str(store)], check=True, capture_output=True, text=True).stdout
    assert f"store      {store}" in shown.splitlines()  # one line, however long
