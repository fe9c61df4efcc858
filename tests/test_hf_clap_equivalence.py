"""``cli.py embed --embedder hf-clap`` gives what ``transformers.ClapModel`` gives when run by hand (CPU, offline).

The models are small ``ClapModel`` configurations with random weights, saved with
``save_pretrained`` together with the published default ``ClapFeatureExtractor``
(whose default truncation is ``fusion``) and a byte-level RoBERTa tokenizer made here.
The reference runs the extractor and the tokenizer by hand on each 10 s window at
48 kHz, then ``get_audio_features`` / ``get_text_features``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from typer.testing import CliRunner

from clapmos.embed.store import FeatureStore
from tests.hf_models import clap_folder, write_clips

TOLERANCE = 1e-5
WINDOW = 480_000
CLIPS = {"tiled_3s": (3.0, 48_000), "exact_10s": (10.0, 48_000), "three_windows_25s": (25.0, 48_000), "musiceval_16k_10s": (10.0, 16_000)}
TEXTS = ["a calm piano melody", "heavy metal guitar with loud drums", " ".join(["an orchestra"] * 200), "Ünïcode café ♪"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hf_clap")


@pytest.fixture(scope="module")
def manifest(workdir) -> Path:
    return write_clips(workdir / "audio", CLIPS, TEXTS)


def embed(manifest: Path, model: Path, out: Path) -> FeatureStore:
    from clapmos.cli import app

    args = ["embed", "--corpus", "manifest", "--root", str(manifest), "--embedder", "hf-clap", "--model-path", str(model)]
    result = CliRunner().invoke(app, [*args, "--device", "cpu", "--batch-size", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return FeatureStore.open(out)


@pytest.fixture(scope="module", params=[False, True], ids=["non-fusion", "fusion"])
def case(request, workdir, manifest):
    """(model folder, store written by the CLI, fusion?) for a non-fusion and a fusion configuration."""
    fusion = request.param
    folder = clap_folder(workdir / f"clap_fusion_{fusion}", fusion=fusion)
    return folder, embed(manifest, folder, workdir / f"store_{fusion}.zarr"), fusion


def by_hand(folder: Path, window: np.ndarray, fusion: bool) -> np.ndarray:
    """The extractor with the truncation matching the config, then ``ClapModel.get_audio_features``."""
    from transformers import ClapFeatureExtractor, ClapModel

    extractor = ClapFeatureExtractor.from_pretrained(folder)
    model = ClapModel.from_pretrained(folder).eval()
    inputs = extractor(window, sampling_rate=48_000, truncation="fusion" if fusion else "rand_trunc", return_tensors="pt")
    if fusion:
        # A window is never longer than 10 s; the extractor would still flag one clip of the batch as longer at random.
        inputs["is_longer"] = torch.zeros_like(inputs["is_longer"])
    with torch.no_grad():
        return model.get_audio_features(**inputs).pooler_output[0].numpy()


def clip_at_48k(manifest: Path, clip: str) -> np.ndarray:
    audio, rate = sf.read(manifest.parent / f"{clip}.wav", dtype="float32")
    return audio if rate == 48_000 else soxr.resample(audio, rate, 48_000).astype(np.float32)


def stored_audio(store: FeatureStore, clip: str) -> np.ndarray:
    return store.audio("hf-clap")[store.items()["id"].tolist().index(clip)]


@pytest.mark.parametrize("clip", ["tiled_3s", "exact_10s", "musiceval_16k_10s"])
def test_a_clip_of_one_window_equals_get_audio_features(case, manifest, clip):
    folder, store, fusion = case
    expected = by_hand(folder, clip_at_48k(manifest, clip), fusion)
    assert np.abs(stored_audio(store, clip) - expected).max() <= TOLERANCE


def test_a_25s_clip_is_the_renormalised_mean_of_its_three_windows(case, manifest):
    folder, store, fusion = case
    audio = clip_at_48k(manifest, "three_windows_25s")
    per_window = np.stack([by_hand(folder, audio[i : i + WINDOW], fusion) for i in (0, WINDOW, 2 * WINDOW)])
    mean = per_window.mean(axis=0)
    expected = mean / np.linalg.norm(mean)
    assert np.abs(stored_audio(store, "three_windows_25s") - expected).max() <= TOLERANCE
    assert np.abs(per_window - expected).max(axis=1).min() > 100 * TOLERANCE  # the tolerance tells the windows apart


def test_texts_equal_get_text_features_through_the_folders_tokenizer(case):
    from transformers import AutoTokenizer, ClapModel

    folder, store, _ = case
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = ClapModel.from_pretrained(folder).eval()
    rows = [store.items()["text"].tolist().index(text) for text in TEXTS]
    for text, got in zip(TEXTS, store.text("hf-clap")[rows]):
        tokens = tokenizer([text], truncation=True, max_length=512, return_tensors="pt")  # 514 positions - 2
        with torch.no_grad():
            expected = model.get_text_features(**tokens).pooler_output[0].numpy()
        assert np.abs(got - expected).max() <= TOLERANCE
    assert len(tokenizer(TEXTS[2])["input_ids"]) > 512  # the long prompt was truncated, not refused


def test_the_store_records_the_folders_config_and_the_weights_sha256(case):
    folder, store, fusion = case
    attrs = store.embedder_attrs("hf-clap")
    assert attrs["checkpoint_sha256"] == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert attrs["model_config"] == json.loads((folder / "config.json").read_text())
    assert attrs["config_sha256"] == hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()
    assert (attrs["sample_rate"], attrs["window_s"], attrs["hop_s"], attrs["audio_dim"], attrs["text_dim"]) == (48_000, 10.0, 10.0, 24, 24)
    assert ("truncation fusion" in attrs["feature_extractor"]) == fusion
    np.testing.assert_allclose(np.linalg.norm(store.audio("hf-clap"), axis=1), 1.0, atol=1e-6)


def test_a_window_gets_the_same_vector_whatever_its_batch(case, manifest):
    """The extractor's random ``is_longer`` flag is off: batch size and neighbours change nothing."""
    from clapmos.embed.backends import create_embedder

    folder, store, _ = case
    model = create_embedder("hf-clap", device="cpu", model_path=folder)
    model.load()
    windows = [clip_at_48k(manifest, clip)[:WINDOW] for clip in ("tiled_3s", "exact_10s", "musiceval_16k_10s")]
    alone = np.stack([model.embed_audio([w])[0] for w in windows])
    together = model.embed_audio(windows)
    assert np.abs(alone - together).max() <= TOLERANCE


def test_info_lists_the_hugging_face_embedders_with_rates_and_sizes():
    from clapmos.cli import app

    result = CliRunner().invoke(app, ["info", "--embedders"])
    text = " ".join(result.output.split())  # rich wraps long descriptions
    assert "hf-clap 48000 Hz 512-d 512-d none LAION CLAP family" in text
    assert "hf-audio 16000 Hz hidden none none transformers audio encoder" in text and "audio-only" in text
