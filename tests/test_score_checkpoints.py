"""`score` embeds with the run's own embedders: the checkpoint must be the training one (by its sha256),
several embedders each get theirs (`--checkpoint m2d=PATH`), and a refused checkpoint loses nothing cached.

M2D runs through the stand-in module of `tests/test_m2d_embedder.py` (the real one may not be copied).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.ownership import record_folder
from clapmos.embed.engines.score_cache import EmbeddingCache
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.run import load_run
from tests.conftest import make_corpus
from tests.test_m2d_embedder import write_stand_in

runner = CliRunner()


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def fused_run(tmp_path_factory):
    """A manifest corpus (``clips.csv``, its clips listed for `score` in ``list.csv``) embedded with m2d (stand-in) and spectral, a ridge run on both, and another m2d checkpoint."""
    folder = tmp_path_factory.mktemp("ckpt")
    corpus = make_corpus(folder / "audio", n=12, seconds=0.3, sample_rate=16000)
    corpus.items.assign(overall=corpus.labels["overall"].to_numpy()).drop(columns=["id", "split"]).to_csv(folder / "clips.csv", index=False)
    corpus.items[["path", "text", "system"]].to_csv(folder / "list.csv", index=False)  # what `score` reads
    portable, checkpoint = write_stand_in(folder / "m2d")
    _, other = write_stand_in(folder / "m2d-other", seed=1)
    store = folder / "store.zarr"
    for embedder in ("m2d", "spectral"):
        paths = ["--m2d-portable", portable, "--checkpoint", checkpoint] if embedder == "m2d" else []
        result = invoke("embed", "--corpus", "manifest", "--root", folder / "clips.csv", "--embedder", embedder, *paths, "--out", store)
        assert result.exit_code == 0, result.output
    fitted = invoke("fit", "--store", store, "--embedder", "m2d,spectral", "--head", "ridge", "--cv", 2, "--out", folder / "run")
    assert fitted.exit_code == 0, fitted.output
    return folder, portable, checkpoint, other


def test_two_embedders_score_as_the_store_predicts_with_the_checkpoint_named_per_embedder(fused_run, tmp_path):
    folder, portable, checkpoint, _ = fused_run
    result = invoke("score", "--model", folder / "run", folder / "list.csv", "--out", tmp_path / "s.csv",
                    "--checkpoint", f"m2d={checkpoint}", "--m2d-portable", portable, "--no-plots")
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "s.csv", float_precision="round_trip")
    expected = load_run(folder / "run").predict(FeatureStore.open(folder / "store.zarr"))  # the same clips, in order
    np.testing.assert_array_equal(scores[["overall", "overall_std"]].to_numpy(), expected[["overall", "overall_std"]].to_numpy())


def test_another_checkpoint_is_refused_by_its_hash_before_anything_is_embedded(fused_run, tmp_path):
    folder, portable, checkpoint, other = fused_run
    cache = tmp_path / "cache"
    listed = tmp_path / "first.csv"
    pd.read_csv(folder / "list.csv").iloc[:6].to_csv(listed, index=False)
    ok = invoke("score", "--model", folder / "run", listed, "--out", tmp_path / "a.csv", "--cache", cache,
                "--checkpoint", f"m2d={checkpoint}", "--m2d-portable", portable)
    assert ok.exit_code == 0, ok.output
    (shard,) = EmbeddingCache.open(cache).shards()
    kept = shard.audio("m2d").copy()
    refused = invoke("score", "--model", folder / "run", folder / "list.csv", "--out", tmp_path / "b.csv", "--cache", cache,
                     "--checkpoint", f"m2d={other}", "--m2d-portable", portable)
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert "checkpoint_sha256: run" in refused.output and "--checkpoint m2d=PATH" in refused.output
    assert [s.path for s in EmbeddingCache.open(cache).shards()] == [shard.path]
    np.testing.assert_array_equal(FeatureStore.open(shard.path).audio("m2d"), kept)
    cached = invoke("score", "--model", folder / "run", listed, "--out", tmp_path / "c.csv", "--cache", cache)
    assert cached.exit_code == 0 and "0 clip(s) embedded now, 6 read from the cache" in cached.output  # no checkpoint needed


def test_without_options_the_embedders_are_rebuilt_from_what_their_store_recorded(fused_run, tmp_path):
    folder, _, _, _ = fused_run
    result = invoke("score", "--model", folder / "run", folder / "list.csv", "--out", tmp_path / "s.csv", "--no-plots")
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "s.csv", float_precision="round_trip")
    expected = load_run(folder / "run").predict(FeatureStore.open(folder / "store.zarr"))
    np.testing.assert_array_equal(scores["overall"].to_numpy(), expected["overall"].to_numpy())


def test_when_the_recorded_checkpoint_has_moved_the_message_says_which_option_to_give(fused_run, tmp_path):
    folder, portable, _, _ = fused_run
    run = tmp_path / "run"
    shutil.copytree(folder / "run", run)
    provenance = json.loads((run / "provenance.json").read_text())
    provenance["embedders"]["m2d"]["load_options"]["checkpoint"] = str(tmp_path / "moved" / "checkpoint-30.pth")
    (run / "provenance.json").write_text(json.dumps(provenance))
    record_folder(run, "run")  # as fit records it: the run is intact, only the checkpoint moved
    result = invoke("score", "--model", run, folder / "list.csv", "--out", tmp_path / "s.csv", "--m2d-portable", portable)
    assert result.exit_code == 2 and "--checkpoint" in result.output and "moved" in result.output
