"""`score` with a run of frame heads: the cache holds the clips' frame tokens too, and the scores are `predict`'s.

A run stacking `attn_mlp` with `ridge` is fitted on a demo store embedded with `--frames`;
`score` then reads the same wav files without any store of the user's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.backends.spectral import SpectralEmbedder
from clapmos.embed.corpora.demo import make_demo_corpus
from clapmos.embed.engines.score_cache import EmbeddingCache
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.run import load_run

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")
QUICK = [arg for setting in ("d_model=16", "n_heads=2", "hidden_sizes=[16]", "max_epochs=3") for arg in ("--param", f"attn_mlp.{setting}")]
COLUMNS = ["overall", "overall_std", "textual", "textual_std"]


class PowerCut(Exception):
    """Stands for the machine going down in the middle of a score."""


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo store with frames, a run of attn_mlp + ridge on it, a plain ridge run, and the frame run's predictions."""
    folder = tmp_path_factory.mktemp("score-frames")
    make_demo_corpus(folder / "corpus", n_clips=48, seed=2)
    store_path = folder / "store.zarr"
    assert invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--frames", "--out", store_path).exit_code == 0
    for name, heads, extra in (("frames-run", "attn_mlp,ridge", QUICK), ("ridge-run", "ridge", [])):
        fitted = invoke("fit", "--store", store_path, "--embedder", "spectral", "--head", heads, "--cv", 2, "--no-plots", "--out", folder / name, *extra)
        assert fitted.exit_code == 0, fitted.output
    store = FeatureStore.open(store_path)
    predictions = load_run(folder / "frames-run").predict(store).set_index("id")
    return folder, predictions, store.items().set_index("id")


def score_list(folder: Path, items: pd.DataFrame, out: Path, cache: Path, run: str = "frames-run"):
    listed = out.with_name(f"{out.stem}_inputs.jsonl")
    listed.write_text("".join(json.dumps({"path": row.path, "text": row.text, "id": row.Index}) + "\n" for row in items.itertuples()))
    return invoke("score", "--model", folder / run, listed, "--out", out, "--cache", cache, "--no-plots")


def read_scores(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, float_precision="round_trip", keep_default_na=False, na_values=[""], dtype={"id": str})


def count_frame_embeds(monkeypatch) -> dict[str, int]:
    calls = {"windows": 0}
    embed_frames = SpectralEmbedder.embed_frames

    def counted(self, windows):
        calls["windows"] += len(windows)
        return embed_frames(self, windows)

    monkeypatch.setattr(SpectralEmbedder, "embed_frames", counted)
    return calls


def test_a_frame_run_scores_files_exactly_as_predict_on_the_store(demo, tmp_path):
    folder, predictions, items = demo
    result = score_list(folder, items, tmp_path / "scores.csv", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    scores = read_scores(tmp_path / "scores.csv").set_index("id")
    np.testing.assert_array_equal(scores[COLUMNS].to_numpy(), predictions.loc[scores.index, COLUMNS].to_numpy())
    (shard,) = EmbeddingCache.open(tmp_path / "cache").shards()
    assert shard.frames_done("spectral").all()


def test_scoring_again_embeds_nothing(demo, tmp_path, monkeypatch):
    folder, _, items = demo
    assert score_list(folder, items, tmp_path / "first.csv", tmp_path / "cache").exit_code == 0
    calls = count_frame_embeds(monkeypatch)
    again = score_list(folder, items, tmp_path / "again.csv", tmp_path / "cache")
    assert again.exit_code == 0, again.output
    assert calls["windows"] == 0 and f"0 clip(s) embedded now, {len(items)} read from the cache" in again.output
    pd.testing.assert_frame_equal(read_scores(tmp_path / "first.csv"), read_scores(tmp_path / "again.csv"))


def test_clips_cached_without_frames_get_their_frames_added_and_keep_their_vectors(demo, tmp_path):
    folder, predictions, items = demo
    assert score_list(folder, items, tmp_path / "plain.csv", tmp_path / "cache", run="ridge-run").exit_code == 0
    (plain,) = EmbeddingCache.open(tmp_path / "cache").shards()
    assert not plain.has_frames("spectral")
    vectors = plain.audio("spectral")
    result = score_list(folder, items, tmp_path / "scores.csv", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert f"{len(items)} clip(s) embedded now, 0 read from the cache" in result.output
    (shard,) = EmbeddingCache.open(tmp_path / "cache").shards()
    assert shard.path == plain.path and shard.frames_done("spectral").all()
    np.testing.assert_array_equal(shard.audio("spectral"), vectors)
    scores = read_scores(tmp_path / "scores.csv").set_index("id")
    np.testing.assert_array_equal(scores[COLUMNS].to_numpy(), predictions.loc[scores.index, COLUMNS].to_numpy())


def test_an_interrupted_score_with_frames_resumes_where_it_stopped(demo, tmp_path, monkeypatch):
    folder, predictions, items = demo
    calls = count_frame_embeds(monkeypatch)
    counted = SpectralEmbedder.embed_frames

    def stop_after_the_first_block(self, windows):
        if calls["windows"] >= 32:
            raise PowerCut
        return counted(self, windows)

    monkeypatch.setattr(SpectralEmbedder, "embed_frames", stop_after_the_first_block)
    monkeypatch.setattr("clapmos.embed.store.schema.FEATURE_CHUNK", 32)  # two blocks in the 48-clip shard (its clips are one window each)
    with pytest.raises(PowerCut):
        score_list(folder, items, tmp_path / "s.csv", tmp_path / "cache")
    (shard,) = EmbeddingCache.open(tmp_path / "cache").shards()
    assert shard.frames_done("spectral").sum() == 32
    monkeypatch.undo()
    calls = count_frame_embeds(monkeypatch)
    result = score_list(folder, items, tmp_path / "s.csv", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert calls["windows"] == len(items) - 32 and len(EmbeddingCache.open(tmp_path / "cache").shards()) == 1
    scores = read_scores(tmp_path / "s.csv").set_index("id")
    np.testing.assert_array_equal(scores[COLUMNS].to_numpy(), predictions.loc[scores.index, COLUMNS].to_numpy())
