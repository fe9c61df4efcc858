"""``cli.py embed --embedder clap`` gives what laion-clap's own functions give (CPU, offline, random weights).

The reference is a ``CLAP_Module`` (HTSAT-base, non-fusion) built by the package's own
constructor with random weights; only its text tower is shrunk to one RoBERTa layer
over a 261-token byte-level vocabulary, with a tokenizer made here (and saved with
``save_pretrained``) standing in for roberta-base's. It is saved the way LAION's files
are: a ``state_dict`` wrapper, ``module.`` prefixes, ``position_ids``, and a numpy
scalar beside the weights. The store written by the CLI must equal the reference's
``get_audio_embedding_from_data`` / ``get_text_embedding`` on the same 48 kHz audio, and
its frame tokens (``--frames``) every 32nd frame of the audio tower's own
``fine_grained_embedding`` of each window.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import soxr
import torch
from typer.testing import CliRunner

from clapmos.embed.backends.laion_package import import_laion_clap, roberta_base_config
from clapmos.embed.store import FeatureStore

pytestmark = pytest.mark.filterwarnings("ignore:torch.meshgrid")  # raised inside laion-clap's HTSAT
TOLERANCE = 1e-5
WINDOW = 480_000
TEXTS = [
    "a calm piano melody",
    "heavy metal guitar with loud drums",
    " ".join(["an orchestra"] * 60),  # longer than 77 tokens: truncated
    "Ünïcode café ♪",
]


def save_test_tokenizer(folder: Path) -> Path:
    """A byte-level RoBERTa tokenizer (261 tokens, pad id 1) saved with ``save_pretrained``."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import RobertaTokenizer

    tokens = ["<s>", "<pad>", "</s>", "<unk>", *sorted(ByteLevel.alphabet()), "<mask>"]
    RobertaTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=[]).save_pretrained(folder)
    return folder


def build_reference_module(tokenizer_dir: Path, amodel: str = "HTSAT-base", seed: int = 0):
    """laion-clap's ``CLAP_Module`` built by its own constructor, random weights, 1-layer text tower."""
    laion_clap = import_laion_clap()
    from transformers import RobertaModel, RobertaTokenizer

    tokenizer = RobertaTokenizer.from_pretrained(str(tokenizer_dir))
    config = roberta_base_config(layers=1, vocab_size=len(tokenizer))
    torch.manual_seed(seed)
    with (
        mock.patch.object(RobertaModel, "from_pretrained", lambda *a, **k: RobertaModel(config)),
        mock.patch.object(RobertaTokenizer, "from_pretrained", lambda *a, **k: tokenizer),
    ):
        module = laion_clap.CLAP_Module(enable_fusion=False, amodel=amodel, device="cpu")
    return module.eval()


def save_upstream_style(module, path: Path) -> Path:
    """Save like LAION's files: ``state_dict`` wrapper, ``module.`` prefixes, ``position_ids``, numpy metadata."""
    state = {f"module.{k}": v for k, v in module.model.state_dict().items()}
    state["module.text_branch.embeddings.position_ids"] = torch.arange(514).unsqueeze(0)
    torch.save({"epoch": 15, "state_dict": state, "esc50_top1": np.float64(0.9014)}, path)
    return path


def tone(seconds: float, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    sweep = np.sin(2 * np.pi * (200 + 150 * seed) * t * (1 + 0.05 * t))
    return (0.3 * sweep + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


CLIPS = {  # id: (seconds, file rate)
    "tiled_3s": (3.0, 48_000),
    "exact_10s": (10.0, 48_000),
    "three_windows_25s": (25.0, 48_000),
    "musiceval_16k_10s": (10.0, 16_000),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clap")


@pytest.fixture(scope="module")
def tokenizer_dir(workdir) -> Path:
    return save_test_tokenizer(workdir / "tokenizer")


@pytest.fixture(scope="module")
def reference(tokenizer_dir):
    return build_reference_module(tokenizer_dir)


@pytest.fixture(scope="module")
def checkpoint(reference, workdir) -> Path:
    return save_upstream_style(reference, workdir / "random_htsat_base.pt")


@pytest.fixture(scope="module")
def manifest(workdir) -> Path:
    rows = []
    for i, (clip, (seconds, rate)) in enumerate(CLIPS.items()):
        sf.write(workdir / f"{clip}.wav", tone(seconds, rate, seed=i), rate, subtype="FLOAT")
        rows.append({"path": f"{clip}.wav", "text": TEXTS[i]})
    path = workdir / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def embed_with_cli(manifest: Path, checkpoint: Path, tokenizer_dir: Path, out: Path, *extra: str) -> FeatureStore:
    from clapmos.cli import app

    args = ["embed", "--corpus", "manifest", "--root", str(manifest), "--embedder", "clap", "--out", str(out)]
    args += ["--checkpoint", str(checkpoint), "--tokenizer", str(tokenizer_dir), "--device", "cpu", "--batch-size", "2", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return FeatureStore.open(out)


@pytest.fixture(scope="module")
def store(manifest, checkpoint, tokenizer_dir, workdir) -> FeatureStore:
    """Embedded with frame tokens (kept in float32 here), which come from the same forward pass as the clip vectors."""
    return embed_with_cli(manifest, checkpoint, tokenizer_dir, workdir / "store.zarr", "--frames", "--frame-dtype", "float32")


def stored_audio(store: FeatureStore, clip: str) -> np.ndarray:
    row = store.items()["id"].tolist().index(clip)
    return store.audio("clap")[row]


def clip_at_48k(manifest: Path, clip: str) -> np.ndarray:
    audio, rate = sf.read(manifest.parent / f"{clip}.wav", dtype="float32")
    return audio if rate == 48_000 else soxr.resample(audio, rate, 48_000).astype(np.float32)


def package_embedding(reference, audio: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return reference.get_audio_embedding_from_data([audio], use_tensor=False)[0]


@pytest.mark.parametrize("clip", ["tiled_3s", "exact_10s"])
def test_clip_of_one_window_equals_the_package_embedding(store, reference, manifest, clip):
    expected = package_embedding(reference, clip_at_48k(manifest, clip))
    assert np.abs(stored_audio(store, clip) - expected).max() <= TOLERANCE


def test_16khz_clip_equals_the_package_embedding_of_its_soxr_resampling_to_48khz(store, reference, manifest):
    audio16, _ = sf.read(manifest.parent / "musiceval_16k_10s.wav", dtype="float32")
    expected = package_embedding(reference, soxr.resample(audio16, 16_000, 48_000).astype(np.float32))
    assert np.abs(stored_audio(store, "musiceval_16k_10s") - expected).max() <= TOLERANCE


def test_25s_clip_is_the_renormalised_mean_of_the_package_embeddings_of_its_three_windows(store, reference, manifest):
    audio = clip_at_48k(manifest, "three_windows_25s")
    windows = [audio[:WINDOW], audio[WINDOW : 2 * WINDOW], audio[2 * WINDOW :]]
    per_window = np.stack([package_embedding(reference, w) for w in windows])
    mean = per_window.mean(axis=0)
    expected = mean / np.linalg.norm(mean)
    assert np.abs(stored_audio(store, "three_windows_25s") - expected).max() <= TOLERANCE
    # the tolerance is far below the differences it has to tell apart
    assert np.abs(per_window - expected).max(axis=1).min() > 100 * TOLERANCE


def test_texts_equal_the_package_text_embeddings(store, reference):
    with torch.no_grad():
        expected = reference.get_text_embedding(TEXTS, use_tensor=False)
    rows = [store.items()["text"].tolist().index(text) for text in TEXTS]
    got = store.text("clap")[rows]
    assert got.shape == (len(TEXTS), 512)
    assert np.abs(got - expected).max() <= TOLERANCE
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


def test_store_records_checkpoint_sha256_window_and_text_tower(store, checkpoint):
    attrs = store.embedder_attrs("clap")
    assert attrs["checkpoint"] == checkpoint.name
    assert attrs["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert (attrs["sample_rate"], attrs["window_s"], attrs["hop_s"]) == (48_000, 10.0, 10.0)
    assert (attrs["text_tower_layers"], attrs["tokenizer_vocab"], attrs["precision"]) == (1, 261, "fp32")


@pytest.mark.slow
def test_the_same_files_always_give_the_same_vectors(store, manifest, checkpoint, tokenizer_dir, workdir):
    again = embed_with_cli(manifest, checkpoint, tokenizer_dir, workdir / "again.zarr")
    assert np.array_equal(again.audio("clap"), store.audio("clap"))
    assert np.array_equal(again.text("clap"), store.text("clap"))


def package_fine_grained(reference, window: np.ndarray) -> np.ndarray:
    """The audio tower's ``fine_grained_embedding`` (1,024 frames) of one window, prepared as the package prepares it."""
    from laion_clap.training.data import float32_to_int16, get_audio_features, int16_to_float32

    waveform = torch.from_numpy(int16_to_float32(float32_to_int16(window))).float()
    features = get_audio_features({}, waveform, WINDOW, data_truncating="rand_trunc", data_filling="repeatpad",
                                  audio_cfg=reference.model_cfg["audio_cfg"], require_grad=False)
    with torch.no_grad():
        output = reference.model.encode_audio({k: v.unsqueeze(0) for k, v in features.items()}, device="cpu")
    return output["fine_grained_embedding"][0].numpy()


@pytest.mark.parametrize(("clip", "tokens"), [("tiled_3s", [10]), ("exact_10s", [32]), ("three_windows_25s", [32, 32, 16])])
def test_frame_tokens_are_every_32nd_frame_of_the_packages_fine_grained_embedding(store, reference, manifest, clip, tokens):
    audio = clip_at_48k(manifest, clip)
    expected = np.concatenate([
        package_fine_grained(reference, audio[w * WINDOW : (w + 1) * WINDOW])[::32][:count] for w, count in enumerate(tokens)
    ])
    frames = store.frames("clap")
    row = store.items()["id"].tolist().index(clip)
    got = frames.clip(row)
    assert got.shape == (sum(tokens), 1024)
    assert np.abs(got - expected).max() <= TOLERANCE
    assert np.abs(expected).max() > 100 * TOLERANCE
    np.testing.assert_allclose(frames.clip_times(row), np.arange(sum(tokens)) * 0.3125, atol=1e-6)


def test_the_frame_tokens_are_described_in_the_store(store):
    attrs = store.frame_attrs("clap")
    assert (attrs["frame_dim"], attrs["frame_rate"], attrs["frame_dtype"]) == (1024, 3.2, "float32")
    assert "fine_grained_embedding" in attrs["frames"]


def test_transformers_loaders_are_restored_after_building_the_model(store):
    from transformers import BertTokenizer, RobertaModel, RobertaTokenizer

    assert all("from_pretrained" not in cls.__dict__ for cls in (RobertaModel, RobertaTokenizer, BertTokenizer))
