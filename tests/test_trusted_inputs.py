"""What clapmos reads back from its own run folders and caches is verified first (issue 19, cases 8 and 11)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from clapmos import cli


def invoke(*args):
    return CliRunner().invoke(cli.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A demo store and a ridge run fitted on it."""
    from clapmos.embed.corpora.demo import make_demo_corpus

    folder = tmp_path_factory.mktemp("trusted")
    make_demo_corpus(folder / "corpus", n_clips=24, seed=4)
    store = folder / "store.zarr"
    assert invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--out", store).exit_code == 0
    run = folder / "run"
    assert invoke("fit", "--store", store, "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--out", run, "--no-plots").exit_code == 0
    return folder, store, run


@pytest.mark.parametrize("name", ["provenance.json", "config.json", "model/overall/model.json"])
def test_case_11_an_edited_run_file_is_refused_not_silently_used(fitted, tmp_path, name):
    import shutil

    folder, store, run = fitted
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    path = copy / name
    values = json.loads(path.read_text())
    if name == "provenance.json":
        values["embedders"]["spectral"]["window_s"] = 5.0
    else:
        values["edited"] = True
    path.write_text(json.dumps(values))
    clips = sorted((folder / "corpus").rglob("*.wav"))[:2]
    result = invoke("score", *clips, "--model", copy, "--out", tmp_path / "s.csv", "--cache", tmp_path / "cache")
    assert result.exit_code == 2 and str(path) in result.output and "changed since clapmos wrote" in result.output
    assert not (tmp_path / "s.csv").exists()
    result = invoke("predict", "--model", copy, "--store", store, "--out", tmp_path / "p.csv")
    assert result.exit_code == 2 and str(path) in result.output


def test_case_11_an_edited_linear_form_is_refused_not_silently_used(fitted, tmp_path):
    """A ridge run scores from ``linear.npz`` (no scikit-learn): its sha256 in model.json is checked like every model file."""
    import shutil

    import numpy as np

    folder, store, run = fitted
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    path = copy / "model" / "overall" / "linear.npz"
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["m0.k0.coef"] = arrays["m0.k0.coef"] * 1.01
    np.savez(path, **arrays)
    clips = sorted((folder / "corpus").rglob("*.wav"))[:2]
    result = invoke("score", *clips, "--model", copy, "--out", tmp_path / "s.csv", "--cache", tmp_path / "cache")
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"{path}: its contents changed since the model was saved" in said, result.output
    assert not (tmp_path / "s.csv").exists()


# --------------------------------------------------------------------------- case 8: a damaged score cache
def _cache_with_frames(tmp_path):
    """A score cache of 70 clips (two chunks of rows) with spectral vectors and frame tokens; its clips and frame attributes."""
    from clapmos.embed.backends.spectral import SpectralEmbedder
    from clapmos.embed.engines.runner import SerialEngine
    from clapmos.embed.engines.score_cache import EmbeddingCache, clip_keys
    from clapmos.embed.engines.score_inputs import read_score_inputs
    from tests.conftest import make_corpus

    make_corpus(tmp_path / "audio", n=70, seconds=0.3, sample_rate=16000)
    inputs = read_score_inputs(sorted((tmp_path / "audio").glob("*.wav")))
    clips = inputs.assign(key=clip_keys(inputs))

    def model():
        embedder = SpectralEmbedder()
        embedder.load()
        return SerialEngine(embedder)

    cache = EmbeddingCache.open(tmp_path / "cache")
    cache.complete("spectral", IDENTITY, clips, model, 10.0, 10.0, frames={"frame_dtype": "float16"})
    frames = cache.shards()[0].frame_attrs("spectral")
    assert len(cache.locate("spectral", IDENTITY, clips["key"], frames)) == 70
    return clips, model, frames


IDENTITY = {"embedder": "spectral", "window_s": 10.0, "hop_s": 10.0}


def _read_all(folder, clips, model, frames):
    """Complete the cache at ``folder`` (embedding what is damaged or missing), then read every clip's vectors and tokens."""
    import warnings

    from clapmos.embed.engines.score_cache import EmbeddingCache

    cache = EmbeddingCache.open(folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        embedded = cache.complete("spectral", IDENTITY, clips, model, 10.0, 10.0, frames=frames)
    keys = clips["key"].tolist()
    read = cache.frames("spectral", IDENTITY, keys, frames)
    values = [read.values[read.offsets[i]:read.offsets[i + 1]].astype("float32") for i in range(len(keys))]
    return cache.vectors("spectral", IDENTITY, keys, "audio"), cache.vectors("spectral", IDENTITY, keys, "text"), values, embedded, [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def damaged_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("damaged")
    clips, model, frames = _cache_with_frames(folder)
    fresh = _read_all(folder / "cache", clips, model, frames)
    assert fresh[3] == 0  # everything was cached and intact
    shard = next((folder / "cache" / "shards").glob("*.zarr"))
    arrays = sorted(str(p.parent.relative_to(shard)) for p in shard.rglob("zarr.json")
                    if json.loads(p.read_text())["node_type"] == "array" and any((p.parent / "c").rglob("*")))  # arrays with data
    return folder, clips, model, frames, fresh, arrays


def _first_chunk(array_folder):
    return sorted(p for p in (array_folder / "c").rglob("*") if p.is_file())[0]


def test_every_array_of_the_cache_is_tested():
    """The cache's arrays, as the damage test below lists them (a new array makes this fail until it is damaged there too)."""
    assert set(DAMAGED_ARRAYS) >= {"features/spectral/audio", "features/spectral/text", "features/spectral/done",
                                    "features/spectral/frames/start", "features/spectral/frames/values", "features/spectral/frames/length"}


DAMAGED_ARRAYS = [
    "features/spectral/check/audio", "features/spectral/check/text", "features/spectral/frames/check",
    "features/spectral/audio", "features/spectral/done", "features/spectral/text",
    "features/spectral/frames/done", "features/spectral/frames/length", "features/spectral/frames/start", "features/spectral/frames/time",
    "features/spectral/frames/values", "items/id", "items/path", "items/split",
]


def test_the_list_of_damaged_arrays_is_every_array_of_the_cache(damaged_cache):
    *_, arrays = damaged_cache
    assert arrays == sorted(DAMAGED_ARRAYS)


@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbage"])
@pytest.mark.parametrize("array", DAMAGED_ARRAYS)
def test_case_8_a_damaged_chunk_gives_the_fresh_numbers_and_names_the_clips(damaged_cache, tmp_path, array, damage):
    import shutil

    import numpy as np

    folder, clips, model, frames, fresh, _ = damaged_cache
    cache = tmp_path / "cache"
    shutil.copytree(folder / "cache", cache)
    shard = next((cache / "shards").glob("*.zarr"))
    chunk = _first_chunk(shard / array)
    if damage == "deleted":
        chunk.unlink()
    elif damage == "truncated":
        chunk.write_bytes(chunk.read_bytes()[: max(1, chunk.stat().st_size // 2)])
    else:
        chunk.write_bytes(np.random.default_rng(0).bytes(chunk.stat().st_size))
    audio, text, values, embedded, messages = _read_all(cache, clips, model, frames)
    np.testing.assert_array_equal(audio, fresh[0])
    np.testing.assert_array_equal(text, fresh[1])
    assert all(np.array_equal(a, b) for a, b in zip(values, fresh[2]))
    if array.startswith(("features/spectral/check/", "features/spectral/audio", "features/spectral/text", "features/spectral/frames/")) and not array.endswith("done"):
        # a damaged number: the clips are embedded again, named by their paths, with the shard to delete
        assert embedded and any(str(shard) in m and ("failed their checksum" in m or "is damaged" in m) for m in messages), messages
        named = [m for m in messages if "failed their checksum" in m]
        assert not named or any(file in named[0] for file in clips["file"])


@pytest.mark.parametrize("array", ["features/spectral/audio", "features/spectral/text", "features/spectral/check/audio"])
def test_case_8_score_with_a_damaged_cache_gives_the_fresh_scores_and_names_the_clips(fitted, tmp_path, array):
    import pandas as pd

    folder, _, run = fitted
    clips = sorted((folder / "corpus").rglob("*.wav"))
    fresh = tmp_path / "fresh.csv"
    assert invoke("score", *clips, "--model", run, "--out", fresh, "--cache", tmp_path / "cache").exit_code == 0
    shard = next((tmp_path / "cache" / "shards").glob("*.zarr"))
    _first_chunk(shard / array).unlink()
    again = tmp_path / "again.csv"
    result = invoke("score", *clips, "--model", run, "--out", again, "--cache", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert "failed their checksum" in result.output and str(clips[0]) in result.output and str(shard) in result.output
    assert f"{len(clips)} clip(s) embedded now" in result.output
    pd.testing.assert_frame_equal(pd.read_csv(again), pd.read_csv(fresh))
