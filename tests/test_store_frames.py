"""Frame tokens in the store (schema version 2): layout, values, times, reading in batches, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.audio import load_audio
from clapmos.embed.backends.spectral import FRAMES_PER_TOKEN, SpectralEmbedder
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store.frame_store import TOKEN_CHUNK
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from clapmos.embed.store.schema import FEATURE_CHUNK
from clapmos.embed.store.seals import row_digests
from tests.conftest import make_corpus

WINDOW_S, HOP_S = 1.0, 0.75  # overlapping windows, so token times are not just index / rate


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("frames") / "audio", n=FEATURE_CHUNK + 6, seconds=2.5)


@pytest.fixture(scope="module")
def store(corpus, tmp_path_factory) -> FeatureStore:
    store = FeatureStore.create(tmp_path_factory.mktemp("store") / "s.zarr", corpus)
    embed_corpus(store, "spectral", window_s=WINDOW_S, hop_s=HOP_S, progress=False, frames=True)
    return store


def reference_tokens(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The clip's windows cut by hand, each window's log-mel frames pooled by 20 (mean, std), and every token's start."""
    audio = load_audio(path, 16000)
    embedder = SpectralEmbedder()
    tokens, times = [], []
    for w, start in enumerate(range(0, len(audio), 12000)):
        logmel = embedder._logmel(audio[start : start + 16000])
        for j, first in enumerate(range(0, logmel.shape[1], FRAMES_PER_TOKEN)):
            group = logmel[:, first : first + FRAMES_PER_TOKEN]
            tokens.append(np.concatenate([group.mean(axis=1), group.std(axis=1)]))
            times.append(w * HOP_S + j * 0.2)
        if start + 16000 >= len(audio):
            break
    return np.array(tokens, dtype=np.float32), np.array(times, dtype=np.float32)


def test_the_frames_schema_is_the_documented_one(store):
    group = zarr.open_group(store.path, mode="r")
    frames = group["features/spectral/frames"]
    n, total = len(store), frames.attrs["total_tokens"]
    assert group.attrs["clapmos_store_version"] == 2
    assert (frames["values"].shape, frames["values"].dtype, frames["values"].chunks) == ((total, 128), np.float16, (TOKEN_CHUNK, 128))
    assert (frames["time"].shape, frames["time"].dtype) == ((total,), np.float32)
    assert [frames[k].shape for k in ("start", "length", "done")] == [(n,)] * 3
    assert (frames["start"].dtype, frames["length"].dtype, frames["done"].dtype) == (np.int64, np.int32, np.bool_)
    assert {k: frames.attrs[k] for k in ("frame_dim", "frame_rate", "frame_dtype", "token_chunk")} == {
        "frame_dim": 128, "frame_rate": 5.0, "frame_dtype": "float16", "token_chunk": TOKEN_CHUNK}
    starts = frames["start"][:]
    assert starts[0] == 0 and starts[FEATURE_CHUNK] % TOKEN_CHUNK == 0  # the second block starts on a chunk boundary
    assert frames["done"][:].all()


def test_stored_tokens_are_every_windows_tokens_joined_with_their_start_times(store):
    frames = store.frames("spectral")
    for i in [0, 1, len(store) - 1]:
        expected, times = reference_tokens(store.items()["path"].iat[i])
        np.testing.assert_allclose(frames.clip(i).astype(np.float32), expected, rtol=2.0**-11, atol=1e-6)  # float16: half an ulp
        np.testing.assert_allclose(frames.clip_times(i), times, atol=1e-6)
    lengths = frames.lengths
    assert lengths.tolist() == [len(reference_tokens(store.items()["path"].iat[0])[0])] * len(store)  # equal-length clips


def test_the_clip_vectors_are_the_same_with_and_without_frames(store, corpus, tmp_path):
    plain = FeatureStore.create(tmp_path / "plain.zarr", corpus)
    embed_corpus(plain, "spectral", window_s=WINDOW_S, hop_s=HOP_S, progress=False)
    np.testing.assert_array_equal(plain.audio("spectral"), store.audio("spectral"))
    np.testing.assert_array_equal(plain.text("spectral"), store.text("spectral"))
    assert not plain.has_frames("spectral")
    with pytest.raises(ClapmosError, match=r"has no frame tokens of 'spectral'.*--embedder spectral --frames"):
        plain.frames("spectral")

    # adding frames later lays them out and redoes every block, keeping the clip vectors
    embed_corpus(plain, "spectral", window_s=WINDOW_S, hop_s=HOP_S, progress=False, frames=True)
    np.testing.assert_array_equal(plain.frames("spectral").values, store.frames("spectral").values)
    np.testing.assert_array_equal(plain.audio("spectral"), store.audio("spectral"))


def test_a_version_1_reader_still_finds_every_clip_level_field(store):
    group = zarr.open_group(store.path, mode="r")
    assert sorted(group["features/spectral"].array_keys()) == ["audio", "done", "text"]
    assert store.embedders == ["spectral"]  # frames/ is not mistaken for an embedder
    assert store.paired("spectral").shape == (len(store), 256)


def test_reading_in_batches_gives_the_in_memory_frames(store):
    whole = store.frames("spectral", "train")
    batches = list(store.iter_frames("spectral", "train", batch_size=10))
    assert [len(b) for b in batches][:-1] == [10] * (len(batches) - 1) and sum(map(len, batches)) == len(whole)
    np.testing.assert_array_equal(np.concatenate([b.values for b in batches]), whole.values)
    np.testing.assert_array_equal(np.concatenate([b.ids for b in batches]), store.items("train")["id"].to_numpy())
    np.testing.assert_array_equal(whole.text, store.text("spectral", "train"))


def test_float32_frames_keep_the_full_precision(tmp_path):
    store = FeatureStore.create(tmp_path / "f32.zarr", make_corpus(tmp_path / "audio", n=3, seconds=2.5))
    embed_corpus(store, "spectral", window_s=WINDOW_S, hop_s=HOP_S, progress=False, frames=True, frame_dtype="float32")
    expected, _ = reference_tokens(store.items()["path"].iat[0])
    np.testing.assert_allclose(store.frames("spectral").clip(0), expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(ClapmosError, match=r"frame_dtype: store has 'float32', this run 'float16'.*--overwrite"):
        embed_corpus(store, "spectral", window_s=WINDOW_S, hop_s=HOP_S, progress=False, frames=True)


def test_a_clip_with_zero_frames_is_refused_by_id(store, tmp_path):
    import shutil

    copy = tmp_path / "copy.zarr"
    shutil.copytree(store.path, copy)
    damaged = FeatureStore.open(copy, mode="r+")
    damaged.group["features/spectral/frames/length"][3] = 0
    with pytest.raises(ClapmosError, match=r"(?s)the stored frame tokens of 1 clip\(s\).*are damaged.*clip0003"):
        damaged.frames("spectral")  # a length changed behind clapmos's back: its checksum says so
    no_tokens = np.zeros((1, 0), dtype=np.float16), np.zeros((1, 0), dtype=np.float32)
    damaged.group["features/spectral/frames/check"][3] = row_digests(list(no_tokens))[0]  # as if written with no tokens
    with pytest.raises(ClapmosError, match=r"(?s)1 clip\(s\) have zero frame tokens.*clip0003"):
        damaged.frames("spectral")


def test_an_embedder_without_frames_is_refused_naming_those_with(corpus, tmp_path):
    class NoFrames(SpectralEmbedder):
        frame_dim = 0

    store = FeatureStore.create(tmp_path / "s.zarr", corpus)
    with pytest.raises(ClapmosError, match=r"gives no frame tokens; embedders that do: clap, m2d, spectral"):
        embed_corpus(store, NoFrames(), progress=False, frames=True)
    assert store.embedders == []


def test_the_cli_refuses_a_bad_frame_dtype_before_touching_the_store(tmp_path):
    from tests.layouts import write_manifest

    root = write_manifest(tmp_path / "data")
    result = CliRunner().invoke(cli.app, ["embed", "--corpus", "manifest", "--root", str(root), "--embedder", "spectral",
                                          "--out", str(tmp_path / "s.zarr"), "--frames", "--frame-dtype", "float8"])
    assert result.exit_code == 2 and "Invalid value for '--frame-dtype'" in result.output and "'float16', 'float32'" in result.output
    assert not (tmp_path / "s.zarr").exists()


def test_info_reports_the_frames(store):
    assert "frames     spectral: 128-d tokens at 5.0 per second, float16" in store.summary()
