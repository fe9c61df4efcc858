"""The embedding cache of `score`: keys by content, shards that only grow, resumption, and segment stores."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from clapmos.embed.audio import load_audio
from clapmos.embed.backends.spectral import SpectralEmbedder
from clapmos.embed.errors import ClapmosError
from clapmos.embed.engines.runner import SerialEngine, embed_corpus
from clapmos.embed.engines.score_cache import MARKER, EmbeddingCache, clip_keys
from clapmos.embed.engines.score_inputs import read_score_inputs
from clapmos.embed.store import FeatureStore
from tests.conftest import make_corpus

IDENTITY = {"embedder": "spectral", "window_s": 10.0, "hop_s": 10.0}


def loaded() -> SpectralEmbedder:
    model = SpectralEmbedder()
    model.load()
    return model


def engine() -> SerialEngine:
    """What ``complete`` asks for when something is missing: the engine of this process, its model loaded."""
    return SerialEngine(loaded())


def clips_of(files, texts=None) -> pd.DataFrame:
    inputs = read_score_inputs(files)
    if texts is not None:
        inputs["text"] = texts
    return inputs.assign(key=clip_keys(inputs))


@pytest.fixture
def wavs(tmp_path):
    make_corpus(tmp_path / "audio", n=6, seconds=0.2, sample_rate=16000)
    return sorted((tmp_path / "audio").glob("*.wav"))


def test_keys_follow_the_content_the_segment_and_the_text_not_the_name(wavs, tmp_path):
    shutil.copy(wavs[0], tmp_path / "renamed.wav")
    base = clips_of([wavs[0], tmp_path / "renamed.wav", wavs[1]])["key"].tolist()
    assert base[0] == base[1] != base[2]
    assert clips_of([wavs[0]], texts=["a prompt"])["key"].iloc[0] != base[0]
    segment = read_score_inputs([wavs[0]]).assign(start_s=0.05)
    assert clip_keys(segment)[0] != base[0]
    sf.write(wavs[0], np.zeros(800, np.float32), 16000)  # the file is edited in place
    assert clips_of([wavs[0]])["key"].iloc[0] != base[0]


def test_new_clips_go_to_a_new_shard_and_old_shards_are_never_rewritten(wavs, tmp_path):
    cache = EmbeddingCache.open(tmp_path / "cache")
    loads = []
    model = lambda: loads.append(1) or engine()  # noqa: E731
    assert cache.complete("spectral", IDENTITY, clips_of(wavs[:3]), model, 10.0, 10.0) == 3
    first = cache.shards()[0]
    written = {p: p.stat().st_mtime_ns for p in first.path.rglob("*") if p.is_file()}
    assert cache.complete("spectral", IDENTITY, clips_of(wavs), model, 10.0, 10.0) == 3
    assert cache.complete("spectral", IDENTITY, clips_of(wavs), model, 10.0, 10.0) == 0 and len(loads) == 2
    assert len(cache.shards()) == 2
    assert {p: p.stat().st_mtime_ns for p in first.path.rglob("*") if p.is_file()} == written
    clips = clips_of(wavs)
    vectors = cache.vectors("spectral", IDENTITY, clips["key"].tolist(), "audio")
    expected = loaded().embed_audio([load_audio(w, 16000) for w in wavs])
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)


def test_features_made_otherwise_are_not_used(wavs, tmp_path):
    cache = EmbeddingCache.open(tmp_path / "cache")
    cache.complete("spectral", IDENTITY, clips_of(wavs[:2]), engine, 10.0, 10.0)
    keys = clips_of(wavs[:2])["key"]
    assert len(cache.locate("spectral", IDENTITY, keys)) == 2
    assert cache.locate("spectral", {**IDENTITY, "window_s": 5.0}, keys) == {}
    assert cache.locate("spectral", {**IDENTITY, "checkpoint_sha256": "ab"}, keys) != {}  # not recorded by spectral: not compared


def test_an_unfinished_shard_is_completed_when_all_its_missing_clips_are_wanted_again(tmp_path):
    make_corpus(tmp_path / "audio", n=100, seconds=0.05, sample_rate=16000)
    wavs = sorted((tmp_path / "audio").glob("*.wav"))
    cache = EmbeddingCache.open(tmp_path / "cache")
    shard = cache._new_shard(clips_of(wavs))
    only_the_first_block = np.arange(len(shard)) < 64
    embed_corpus(shard, loaded(), progress=False, only=only_the_first_block)  # what a run stopped after one block leaves (rows sealed as written)
    assert shard.done("spectral").sum() == 64
    # rows 64..69 are wanted, but their block also holds 70..99, which this run does not check: a new shard
    assert cache.complete("spectral", IDENTITY, clips_of(wavs[:70]), engine, 10.0, 10.0) == 6
    assert len(cache.shards()) == 2 and shard.done("spectral").sum() == 64
    # every unfinished row of the block is a clip of this run: the block is completed, no third shard
    assert cache.complete("spectral", IDENTITY, clips_of(wavs), engine, 10.0, 10.0) == 30
    assert len(cache.shards()) == 2 and FeatureStore.open(shard.path).done("spectral").all()


def test_a_folder_that_is_not_a_cache_is_refused_and_left_alone(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    with pytest.raises(ClapmosError, match="not a clapmos embedding cache"):
        EmbeddingCache.open(tmp_path / "notes")
    EmbeddingCache.open(tmp_path / "cache")
    (tmp_path / "cache" / MARKER).write_text(json.dumps({"format": "clapmos-score-cache", "version": 99}))
    with pytest.raises(ClapmosError, match="another format or clapmos version"):
        EmbeddingCache.open(tmp_path / "cache")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "x"


def test_a_store_of_segments_embeds_each_segment_and_stores_without_them_stay_valid(tmp_path):
    corpus = make_corpus(tmp_path / "audio", n=3, seconds=1.0, sample_rate=16000)
    plain = FeatureStore.create(tmp_path / "plain.zarr", corpus)
    assert plain.segments() is None
    cut = FeatureStore.create(tmp_path / "cut.zarr", corpus)
    cut.write_segments([0.25, np.nan, 0.0], [0.75, 0.5, np.nan])
    embed_corpus(cut, "spectral", progress=False)
    path = corpus.items["path"]
    expected = SpectralEmbedder().embed_audio([
        load_audio(path[0], 16000)[4000:12000], load_audio(path[1], 16000)[:8000], load_audio(path[2], 16000),
    ])
    np.testing.assert_allclose(FeatureStore.open(cut.path).audio("spectral"), expected, rtol=1e-6)
    starts, ends = FeatureStore.open(cut.path).segments()
    np.testing.assert_array_equal(starts, [0.25, np.nan, 0.0]) and np.testing.assert_array_equal(ends, [0.75, 0.5, np.nan])
