"""The embed runner: pooling, batching, text de-duplication, determinism, bad files, resume."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from clapmos.embed.audio import cut_windows, load_audio
from clapmos.embed.backends import create_embedder
from clapmos.embed.backends.spectral import SpectralEmbedder
from clapmos.embed.errors import ClapmosError
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from clapmos.embed.store.schema import FEATURE_CHUNK
from tests.conftest import make_corpus


class CountingSpectral(SpectralEmbedder):
    """The spectral embedder, recording the batch sizes it is given (not registered)."""

    def __init__(self, **options):
        super().__init__(**options)
        self.audio_batches: list[int] = []
        self.texts_seen: list[str] = []

    def embed_audio(self, windows):
        self.audio_batches.append(len(windows))
        return super().embed_audio(windows)

    def embed_text(self, texts):
        self.texts_seen.extend(texts)
        return super().embed_text(texts)


def test_clip_vector_is_the_mean_of_its_window_vectors(tmp_path):
    corpus = make_corpus(tmp_path / "a", n=3, seconds=2.5, sample_rate=16000)
    store = FeatureStore.create(tmp_path / "s.zarr", corpus)
    embed_corpus(store, "spectral", window_s=1.0, progress=False)
    model = SpectralEmbedder()
    for row, path in enumerate(corpus.items["path"]):
        windows = cut_windows(load_audio(path, 16000), 16000, 1.0, 1.0)
        assert len(windows) == 3
        np.testing.assert_allclose(store.audio("spectral")[row], model.embed_audio(windows).mean(axis=0), rtol=1e-5, atol=1e-5)
    assert store.embedder_attrs("spectral")["window_s"] == 1.0
    assert store.embedder_attrs("spectral")["hop_s"] == 1.0


def test_windows_of_several_clips_share_a_batch_and_prompts_are_embedded_once(tmp_path):
    corpus = make_corpus(tmp_path / "a", n=9, seconds=0.5)
    store = FeatureStore.create(tmp_path / "s.zarr", corpus)
    model = CountingSpectral(batch_size=4)
    embed_corpus(store, model, progress=False)
    assert model.audio_batches == [4, 4, 1]
    assert sorted(model.texts_seen) == sorted(set(corpus.items["text"]))
    np.testing.assert_array_equal(store.text("spectral"), SpectralEmbedder().embed_text(corpus.items["text"].tolist()))


def test_batch_size_and_worker_count_do_not_change_the_numbers(tmp_path):
    corpus = make_corpus(tmp_path / "a", n=7, seconds=0.4)
    results = []
    for i, (batch, workers) in enumerate([(1, 1), (5, 3)]):
        store = FeatureStore.create(tmp_path / f"s{i}.zarr", corpus)
        embed_corpus(store, create_embedder("spectral", batch_size=batch), workers=workers, progress=False)
        results.append(store.paired("spectral"))
    np.testing.assert_array_equal(results[0], results[1])


def test_provenance_is_recorded(tiny_corpus, tmp_path):
    store = FeatureStore.create(tmp_path / "s.zarr", tiny_corpus)
    embed_corpus(store, "spectral", progress=False)
    attrs = store.embedder_attrs("spectral")
    assert attrs["embedder"] == "spectral" and attrs["sample_rate"] == 16000
    assert attrs["pooling"] == "mean" and attrs["audio_dim"] == 128 and attrs["text_dim"] == 128
    assert {"numpy", "soxr", "zarr"} <= set(attrs["versions"])


def test_bad_audio_files_are_all_reported_before_any_work_and_earlier_work_is_kept(tmp_path):
    corpus = make_corpus(tmp_path / "a", n=FEATURE_CHUNK + 3, seconds=0.05)
    store = FeatureStore.create(tmp_path / "s.zarr", corpus)
    embed_corpus(store, "spectral", progress=False)
    first = store.paired("spectral")
    # damage two files, then ask the same store to redo everything under a new window: the failure loses nothing
    (tmp_path / "a" / "clip0001.wav").write_bytes(b"garbage")
    sf.write(tmp_path / "a" / "clip0066.wav", np.zeros(0, np.float32), 16000)
    model = CountingSpectral()
    with pytest.raises(ClapmosError, match=r"(?s)2 audio file\(s\).*clip0001.wav: unreadable.*clip0066.wav: empty"):
        embed_corpus(FeatureStore.create(tmp_path / "s.zarr", corpus), model, window_s=0.02, overwrite=True, progress=False)
    assert model.audio_batches == []  # reported before any work
    again = FeatureStore.open(tmp_path / "s.zarr")
    np.testing.assert_array_equal(again.paired("spectral"), first)
    assert again.embedder_attrs("spectral")["window_s"] == 10.0 and again.done("spectral").all()


def test_rerun_on_a_finished_store_does_nothing(tiny_corpus, tmp_path):
    store = FeatureStore.create(tmp_path / "s.zarr", tiny_corpus)
    embed_corpus(store, "spectral", progress=False)
    model = CountingSpectral()
    embed_corpus(store, model, progress=False)
    assert model.audio_batches == []
