"""The ``m2d`` embedder drives the user's ``portable_m2d.py`` in place, through a stand-in here.

The M2D authors' module and checkpoint may not be redistributed, so the suite writes
a small stand-in with the same interface (``PortableM2D(weight_file=...,
flat_features=True)``, ``encode_clap_audio``, ``encode_clap_text``, and the frame-level
``get_timestamp_embeddings``) into a temporary folder at test time. The real module is
exercised only where a user supplies it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from clapmos.embed.backends import create_embedder
from clapmos.embed.backends.m2d import MODULE_NAME
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore

ROOT = Path(__file__).resolve().parent.parent
RELEASE = "m2d_clap_vit_base-80x1001p16x16p16kpBpTI-2025"
STAND_IN = '''
"""Stand-in for the M2D authors' portable_m2d.py, written by clapmos's tests (same interface)."""
import torch

DIM = {dim}


class PortableM2D(torch.nn.Module):
    calls = []

    def __init__(self, weight_file, num_classes=None, freeze_embed=False, flat_features=False):
        super().__init__()
        self.audio_proj = torch.nn.Linear(4, DIM)
        self.text_proj = torch.nn.Linear(4, DIM)
        self.load_state_dict(torch.load(weight_file, weights_only=True))
        PortableM2D.calls.append(("init", weight_file, flat_features))

    def encode_clap_audio(self, batch_audio):
        PortableM2D.calls.append(("audio", tuple(batch_audio.shape)))
        x = batch_audio
        length = torch.full_like(x[:, 0], x.shape[1] / 160000)
        return self.audio_proj(torch.stack([x.mean(1), x.std(1), x.abs().amax(1), length], dim=1))

    def get_timestamp_embeddings(self, batch_audio):
        """One embedding per 16 frames of 10 ms begun (as the real module's patches), and their times in ms."""
        PortableM2D.calls.append(("frames", tuple(batch_audio.shape)))
        steps = -(-(1 + batch_audio.shape[1] // 160) // 16)
        padded = torch.nn.functional.pad(batch_audio, (0, steps * 2560 - batch_audio.shape[1]))
        x = padded.reshape(len(batch_audio), steps, 2560)
        stats = torch.stack([x.mean(2), x.std(2), x.abs().amax(2), torch.ones_like(x[:, :, 0])], dim=2)
        return self.audio_proj(stats), torch.arange(steps).repeat(len(batch_audio), 1) * 160.0

    def encode_clap_text(self, batch_text, truncate=False):
        PortableM2D.calls.append(("text", len(batch_text)))
        rows = [[len(t), t.count(" "), sum(map(ord, t)) % 97, 1.0] for t in batch_text]
        return self.text_proj(torch.tensor(rows, dtype=torch.float32)).detach()
'''


def write_stand_in(folder: Path, dim: int = 768, seed: int = 0) -> tuple[Path, Path]:
    """``portable_m2d.py`` and ``<release>/checkpoint-30.pth`` for the stand-in, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    portable = folder / "portable_m2d.py"
    portable.write_text(STAND_IN.format(dim=dim))
    generator = torch.Generator().manual_seed(seed)
    weights = {f"{p}.{k}": torch.randn(*shape, generator=generator) for p in ("audio_proj", "text_proj") for k, shape in (("weight", (dim, 4)), ("bias", (dim,)))}
    checkpoint = folder / RELEASE / "checkpoint-30.pth"
    checkpoint.parent.mkdir(exist_ok=True)
    torch.save(weights, checkpoint)
    return portable, checkpoint


def reference_model(portable: Path, checkpoint: Path):
    """The stand-in loaded directly, without clapmos."""
    spec = importlib.util.spec_from_file_location("reference_portable_m2d", portable)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PortableM2D(weight_file=str(checkpoint), flat_features=True).eval()


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def reference_clip_vector(model, audio: np.ndarray) -> np.ndarray:
    windows = [audio[i : i + 160_000] for i in range(0, len(audio), 160_000)]
    with torch.no_grad():
        vectors = [unit(model.encode_clap_audio(torch.from_numpy(w)[None]).numpy()[0]) for w in windows]
    return unit(np.mean(vectors, axis=0))


@pytest.fixture
def stand_in(tmp_path) -> tuple[Path, Path]:
    return write_stand_in(tmp_path / "user-files")


def loaded(portable: Path | None, checkpoint: Path | None):
    given = {"m2d_portable": portable, "checkpoint": checkpoint}
    embedder = create_embedder("m2d", device="cpu", **{k: v for k, v in given.items() if v is not None})
    embedder.load()
    return embedder


def test_cli_embeds_a_corpus_with_the_users_module_where_it_is(tmp_path, stand_in):
    from clapmos.cli import app

    portable, checkpoint = stand_in
    rng = np.random.default_rng(0)
    clips = {"ten_s": 10.0, "twenty_five_s": 25.0, "four_s": 4.0}
    for name, seconds in clips.items():
        sf.write(tmp_path / f"{name}.wav", (0.2 * rng.standard_normal(int(seconds * 16000))).astype(np.float32), 16000, subtype="FLOAT")
    texts = ["a dog barks twice", "rain on a tin roof", "a bell"]
    pd.DataFrame({"path": [f"{n}.wav" for n in clips], "text": texts}).to_csv(tmp_path / "m.csv", index=False)
    args = ["embed", "--corpus", "manifest", "--root", str(tmp_path / "m.csv"), "--out", str(tmp_path / "s.zarr"), "--embedder", "m2d"]
    result = CliRunner().invoke(app, [*args, "--m2d-portable", str(portable), "--checkpoint", str(checkpoint), "--device", "cpu"])
    assert result.exit_code == 0, result.output

    store = FeatureStore.open(tmp_path / "s.zarr")
    model = reference_model(portable, checkpoint)
    expected_audio = np.stack([reference_clip_vector(model, sf.read(tmp_path / f"{n}.wav", dtype="float32")[0]) for n in clips])
    with torch.no_grad():
        expected_text = unit(model.encode_clap_text(texts).numpy())
    np.testing.assert_allclose(store.audio("m2d"), expected_audio, atol=1e-5)
    np.testing.assert_allclose(store.text("m2d"), expected_text, atol=1e-5)

    attrs = store.embedder_attrs("m2d")
    assert attrs["checkpoint"] == f"{RELEASE}/checkpoint-30.pth"
    assert attrs["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert attrs["m2d_portable_sha256"] == hashlib.sha256(portable.read_bytes()).hexdigest()
    user_module = sys.modules[MODULE_NAME]
    assert Path(user_module.__file__) == portable  # imported where it is, not copied
    assert user_module.PortableM2D.calls[0] == ("init", str(checkpoint), True)


def test_frame_tokens_are_the_modules_frame_level_output_per_window(tmp_path, stand_in):
    from clapmos.cli import app

    portable, checkpoint = stand_in
    rng = np.random.default_rng(2)
    clips = {"twelve_s": 12.0, "three_s": 3.0}
    for name, seconds in clips.items():
        sf.write(tmp_path / f"{name}.wav", (0.2 * rng.standard_normal(int(seconds * 16000))).astype(np.float32), 16000, subtype="FLOAT")
    pd.DataFrame({"path": [f"{n}.wav" for n in clips], "text": ["a", "b"]}).to_csv(tmp_path / "m.csv", index=False)
    args = ["embed", "--corpus", "manifest", "--root", str(tmp_path / "m.csv"), "--out", str(tmp_path / "s.zarr"), "--embedder", "m2d",
            "--m2d-portable", str(portable), "--checkpoint", str(checkpoint), "--device", "cpu", "--frames", "--frame-dtype", "float32"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    store = FeatureStore.open(tmp_path / "s.zarr")
    frames = store.frames("m2d")
    model = reference_model(portable, checkpoint)
    for row, name in enumerate(clips):
        audio = sf.read(tmp_path / f"{name}.wav", dtype="float32")[0]
        with torch.no_grad():
            per_window = [model.get_timestamp_embeddings(torch.from_numpy(audio[i : i + 160_000])[None])[0][0].numpy()
                          for i in range(0, len(audio), 160_000)]
        np.testing.assert_allclose(frames.clip(row), np.concatenate(per_window), atol=1e-5)
        starts = np.concatenate([w * 10.0 + np.arange(len(t)) * 0.16 for w, t in enumerate(per_window)])
        np.testing.assert_allclose(frames.clip_times(row), starts, atol=1e-5)
    assert store.frame_attrs("m2d")["frame_rate"] == 6.25
    np.testing.assert_allclose(store.audio("m2d")[0], reference_clip_vector(model, sf.read(tmp_path / "twelve_s.wav", dtype="float32")[0]), atol=1e-5)


def test_equal_length_windows_share_a_batch_and_a_short_window_keeps_its_length(stand_in):
    embedder = loaded(*stand_in)
    rng = np.random.default_rng(1)
    windows = [rng.standard_normal(n).astype(np.float32) for n in (160_000, 80_000, 160_000)]
    vectors = embedder.embed_audio(windows)
    calls = sys.modules[MODULE_NAME].PortableM2D.calls
    assert sorted(c for c in calls if c[0] == "audio") == [("audio", (1, 80_000)), ("audio", (2, 160_000))]
    model = reference_model(*stand_in)
    with torch.no_grad():
        alone = unit(model.encode_clap_audio(torch.from_numpy(windows[1])[None]).numpy()[0])
    np.testing.assert_allclose(vectors[1], alone, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_missing_portable_module_says_what_to_pass_and_where_to_get_it(stand_in):
    with pytest.raises(ClapmosError) as error:
        loaded(None, stand_in[1])
    assert "--m2d-portable is required" in str(error.value)
    assert "nttcslab/m2d" in str(error.value) and RELEASE in str(error.value)


def test_missing_checkpoint_says_what_to_pass_and_where_to_get_it(stand_in):
    with pytest.raises(ClapmosError) as error:
        loaded(stand_in[0], None)
    assert "--checkpoint is required: M2D-CLAP's checkpoint-30.pth" in str(error.value)
    assert f"{RELEASE}.zip" in str(error.value)


def test_module_whose_imports_fail_names_the_packages_it_needs(tmp_path, stand_in):
    broken = tmp_path / "portable_m2d.py"
    broken.write_text("import nnAudio_is_not_installed_here\n")
    with pytest.raises(ClapmosError) as error:
        loaded(broken, stand_in[1])
    message = str(error.value)
    assert "importing it failed" in message and "timm, einops and nnAudio" in message
    assert MODULE_NAME not in sys.modules


def test_file_without_a_portable_m2d_class_is_refused(tmp_path, stand_in):
    other = tmp_path / "other.py"
    other.write_text("x = 1\n")
    with pytest.raises(ClapmosError, match=r"defines no PortableM2D class"):
        loaded(other, stand_in[1])


def test_checkpoint_the_module_cannot_load_is_reported_with_both_paths(tmp_path, stand_in):
    wrong = tmp_path / "wrong.pth"
    torch.save({"something": torch.zeros(1)}, wrong)
    with pytest.raises(ClapmosError) as error:
        loaded(stand_in[0], wrong)
    assert f"PortableM2D(weight_file={wrong}, flat_features=True) from {stand_in[0]} failed" in str(error.value)


def test_module_returning_vectors_of_another_size_is_refused(tmp_path):
    embedder = loaded(*write_stand_in(tmp_path / "small", dim=512))
    with pytest.raises(ClapmosError, match=r"encode_clap_text returned shape \(1, 512\) for 1 inputs, expected \(1, 768\)"):
        embedder.embed_text(["a bell"])


def test_no_file_named_portable_m2d_is_part_of_the_project():
    folders = [ROOT / name for name in ("embed", "heads", "evaluation", "tests", "benchmarks", "notebooks") if (ROOT / name).is_dir()]
    assert [p for folder in folders for p in folder.rglob("portable_m2d.py")] + list(ROOT.glob("portable_m2d.py")) == []
