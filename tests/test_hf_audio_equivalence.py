"""``cli.py embed --embedder hf-audio`` equals the hand-run ``AutoModel`` hidden-state average (CPU, offline).

Small Whisper, WavLM and AST configurations with random weights, saved with
``save_pretrained`` with their feature extractors. The reference runs the extractor
and ``AutoModel`` by hand on each window and averages the chosen layer over the
frames of real audio, counted from the published frame geometry: Whisper's encoder
has one frame per 20 ms (320 samples at 16 kHz) of the 30 s it is always given; AST
has 12 x 101 patch tokens after its two summary tokens, time columns 10 filterbank
frames apart, frames 10 ms apart and 25 ms long.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.run import load_run
from tests.hf_models import ast_folder, wavlm_folder, whisper_folder, write_clips

pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter", "ignore:Support for mismatched key_padding_mask")
TOLERANCE = 1e-5
RATE = 16_000
CLIPS = {"short_3s": (3.0, RATE), "exact_10s": (10.0, 22_050), "long_25s": (25.0, RATE), "two_whisper_windows_40s": (40.0, RATE)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hf_audio")


@pytest.fixture(scope="module")
def manifest(workdir) -> Path:
    return write_clips(workdir / "audio", CLIPS)


@pytest.fixture(scope="module")
def folders(workdir) -> dict[str, Path]:
    return {"whisper": whisper_folder(workdir / "whisper"), "wavlm": wavlm_folder(workdir / "wavlm"), "ast": ast_folder(workdir / "ast")}


def embed(manifest: Path, model: Path, out: Path, *extra: str) -> FeatureStore:
    from clapmos.cli import app

    args = ["embed", "--corpus", "manifest", "--root", str(manifest), "--embedder", "hf-audio", "--model-path", str(model)]
    result = CliRunner().invoke(app, [*args, "--device", "cpu", "--batch-size", "3", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return FeatureStore.open(out)


def clip_at_16k(manifest: Path, clip: str) -> np.ndarray:
    import soxr

    audio, rate = sf.read(manifest.parent / f"{clip}.wav", dtype="float32")
    return audio if rate == RATE else soxr.resample(audio, rate, RATE).astype(np.float32)


def hidden_states(folder: Path, window: np.ndarray) -> tuple[torch.Tensor, ...]:
    from transformers import AutoFeatureExtractor, AutoModel

    extractor = AutoFeatureExtractor.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    inputs = extractor(window, sampling_rate=RATE, return_tensors="pt")
    with torch.no_grad():
        if model.config.model_type == "whisper":
            return model.encoder(inputs["input_features"], output_hidden_states=True).hidden_states
        return model(**inputs, output_hidden_states=True).hidden_states


def whisper_by_hand(folder: Path, window: np.ndarray, layer: int) -> np.ndarray:
    real_frames = math.ceil(len(window) / 320)  # 10 ms mel frames, halved by the encoder's stride-2 convolution
    return hidden_states(folder, window)[layer][0, :real_frames].mean(0).numpy()


def wavlm_by_hand(folder: Path, window: np.ndarray, layer: int | str) -> np.ndarray:
    hidden = hidden_states(folder, window)
    per_layer = [h[0].mean(0).numpy() for h in hidden]  # no padding: every frame is real
    return np.mean(per_layer, axis=0) if layer == "mean" else per_layer[layer]


def ast_by_hand(folder: Path, window: np.ndarray, layer: int) -> np.ndarray:
    frames = 1 + (len(window) - 400) // 160
    columns = math.ceil(frames / 10)
    patches = hidden_states(folder, window)[layer][0, 2:].reshape(12, 101, -1)
    return patches[:, :columns].mean((0, 1)).numpy()


def windows_of(audio: np.ndarray, seconds: float) -> list[np.ndarray]:
    size = round(seconds * RATE)
    return [audio[i : i + size] for i in range(0, len(audio), size)]


def stored(store: FeatureStore, clip: str) -> np.ndarray:
    return store.audio("hf-audio")[store.items()["id"].tolist().index(clip)]


@pytest.fixture(scope="module")
def whisper_store(manifest, folders, workdir) -> FeatureStore:
    return embed(manifest, folders["whisper"], workdir / "whisper.zarr")


@pytest.mark.parametrize("clip", list(CLIPS))
def test_whisper_encoder_average_over_real_frames_of_30s_windows(whisper_store, folders, manifest, clip):
    audio = clip_at_16k(manifest, clip)
    expected = np.mean([whisper_by_hand(folders["whisper"], w, -1) for w in windows_of(audio, 30.0)], axis=0)
    assert np.abs(stored(whisper_store, clip) - expected).max() <= TOLERANCE
    # averaging the padding too would be far off: the test can tell
    padded = hidden_states(folders["whisper"], audio[: 30 * RATE])[-1][0].mean(0).numpy()
    assert clip == "two_whisper_windows_40s" or np.abs(padded - expected).max() > 100 * TOLERANCE


def test_whisper_store_is_audio_only_with_the_models_window_and_dimension(whisper_store, folders):
    attrs = whisper_store.embedder_attrs("hf-audio")
    assert (attrs["window_s"], attrs["hop_s"], attrs["sample_rate"], attrs["audio_dim"], attrs["text_dim"]) == (30.0, 30.0, RATE, 32, 0)
    assert (attrs["layer"], attrs["hidden_layers"]) == (-1, 2)
    assert not whisper_store.has_text("hf-audio") and "text" not in whisper_store.group["features/hf-audio"]


@pytest.mark.parametrize("layer", ["-1", "0", "mean"])
def test_wavlm_average_of_the_chosen_layer_over_10s_windows(manifest, folders, workdir, layer):
    store = embed(manifest, folders["wavlm"], workdir / f"wavlm_{layer}.zarr", "--layer", layer)
    chosen = layer if layer == "mean" else int(layer)
    for clip in CLIPS:
        expected = np.mean([wavlm_by_hand(folders["wavlm"], w, chosen) for w in windows_of(clip_at_16k(manifest, clip), 10.0)], axis=0)
        assert np.abs(stored(store, clip) - expected).max() <= TOLERANCE, clip
    assert store.embedder_attrs("hf-audio")["layer"] == chosen


def test_ast_average_of_the_patch_tokens_in_real_time_columns(manifest, folders, workdir):
    store = embed(manifest, folders["ast"], workdir / "ast.zarr", "--layer", "1")
    assert store.embedder_attrs("hf-audio")["window_s"] == pytest.approx(10.255)
    for clip in ("short_3s", "long_25s"):
        expected = np.mean([ast_by_hand(folders["ast"], w, 1) for w in windows_of(clip_at_16k(manifest, clip), 10.255)], axis=0)
        assert np.abs(stored(store, clip) - expected).max() <= TOLERANCE, clip


def test_two_models_of_hf_audio_live_side_by_side_under_their_names(manifest, folders, whisper_store, workdir):
    embed(manifest, folders["whisper"], workdir / "both.zarr", "--name", "whisper-tiny")
    both = embed(manifest, folders["wavlm"], workdir / "both.zarr", "--name", "wavlm-tiny")
    assert both.embedders == ["wavlm-tiny", "whisper-tiny"]
    np.testing.assert_array_equal(both.audio("whisper-tiny"), whisper_store.audio("hf-audio"))
    assert both.embedder_attrs("wavlm-tiny")["embedder"] == "wavlm-tiny" and both.audio("wavlm-tiny").shape[1] == 32


def test_named_hf_audio_models_fuse_with_a_text_embedder_and_score_new_files_from_the_recorded_paths(manifest, folders, workdir, tmp_path):
    """`fit --embedder wavlm-tiny,whisper-tiny,spectral`, then `score` rebuilds both models from their stores' records."""
    from clapmos.cli import app

    store = tmp_path / "fused.zarr"
    embed(manifest, folders["whisper"], store, "--name", "whisper-tiny")
    embed(manifest, folders["wavlm"], store, "--name", "wavlm-tiny", "--layer", "mean")
    runner = CliRunner()
    assert runner.invoke(app, ["embed", "--corpus", "manifest", "--root", str(manifest), "--embedder", "spectral", "--out", str(store)]).exit_code == 0
    fitted = runner.invoke(app, ["fit", "--store", str(store), "--embedder", "wavlm-tiny,whisper-tiny,spectral", "--head", "ridge",
                                 "--target", "overall", "--features", "audio", "--cv", "2", "--no-plots", "--out", str(tmp_path / "run")])
    assert fitted.exit_code == 0, fitted.output
    scored = runner.invoke(app, ["score", "--model", str(tmp_path / "run"), str(manifest.parent), "--out", str(tmp_path / "s.csv"), "--no-plots"])
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(tmp_path / "s.csv").assign(id=lambda t: t["path"].map(lambda p: Path(p).stem)).set_index("id")
    expected = load_run(tmp_path / "run").predict(FeatureStore.open(store)).set_index("id")
    np.testing.assert_allclose(scores.loc[expected.index, "overall"], expected["overall"], rtol=1e-5)
