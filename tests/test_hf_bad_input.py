"""What ``hf-clap`` and ``hf-audio`` refuse, and how: one message naming the folder, exit 2, before any audio is read.

Each corpus here holds one broken wav file: had the runner read audio before loading
the model, the message would be about that file instead. Features already in the
store are kept.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.store import FeatureStore
from tests.hf_models import bert_folder, clap_folder, whisper_folder, write_clips

pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf_models")
    return {
        "clap": clap_folder(root / "clap"),
        "clap_fusion": clap_folder(root / "clap_fusion", fusion=True),
        "whisper": whisper_folder(root / "whisper"),
        "bert": bert_folder(root / "bert"),
    }


@pytest.fixture
def corpus(tmp_path) -> Path:
    manifest = write_clips(tmp_path / "audio", {"fine": (1.0, 16_000)})
    (tmp_path / "audio" / "broken.wav").write_bytes(b"RIFF not really a wav file")
    with open(manifest, "a") as fh:
        fh.write("broken.wav,a tone,2.0\n")
    return manifest


def copy(models: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(models[name], tmp_path / name))


def embed(corpus: Path, out: Path, embedder: str, *options: str):
    args = ["embed", "--corpus", "manifest", "--root", str(corpus), "--embedder", embedder, "--device", "cpu", "--out", str(out)]
    return CliRunner().invoke(cli.app, [*args, *[str(o) for o in options]])


def assert_refused(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{result.output}"
    assert "broken.wav" not in result.output  # the model was refused before any audio was read
    assert "Traceback" not in result.output


def edit_config(folder: Path, **audio_config) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["audio_config"].update(audio_config)
    (folder / "config.json").write_text(json.dumps(config))


def test_hf_clap_without_model_path_says_what_to_download(corpus, tmp_path):
    assert_refused(embed(corpus, tmp_path / "s.zarr", "hf-clap"), "--model-path is required", "hf download laion/larger_clap_music")


def test_hf_clap_model_path_that_does_not_exist(corpus, tmp_path):
    assert_refused(embed(corpus, tmp_path / "s.zarr", "hf-clap", "--model-path", tmp_path / "nowhere"), "nowhere: no such folder")


def test_hf_clap_refuses_a_folder_of_another_model(corpus, models, tmp_path):
    assert_refused(embed(corpus, tmp_path / "s.zarr", "hf-clap", "--model-path", models["whisper"]), "'whisper' model", "not a CLAP model")


def test_hf_clap_refuses_non_fusion_weights_under_a_fusion_config(corpus, models, tmp_path):
    folder = copy(models, "clap", tmp_path)
    edit_config(folder, enable_fusion=True)
    assert_refused(embed(corpus, tmp_path / "s.zarr", "hf-clap", "--model-path", folder), str(folder), "missing keys", "fusion_model", "enable_fusion: true")


def test_hf_clap_refuses_fusion_weights_under_a_non_fusion_config(corpus, models, tmp_path):
    folder = copy(models, "clap_fusion", tmp_path)
    edit_config(folder, enable_fusion=False)
    assert_refused(embed(corpus, tmp_path / "s.zarr", "hf-clap", "--model-path", folder), "unexpected keys", "enable_fusion: false")


@pytest.mark.parametrize(
    "remove, message",
    [
        (["model.safetensors"], "no weight file"),
        (["tokenizer.json", "tokenizer_config.json"], "no tokenizer files"),
        (["preprocessor_config.json"], "no preprocessor_config.json"),
        (["config.json"], "no config.json"),
    ],
)
def test_hf_clap_names_the_missing_file(corpus, models, tmp_path, remove, message):
    folder = copy(models, "clap", tmp_path)
    for name in remove:
        (folder / name).unlink()
    assert_refused(embed(corpus, tmp_path / "s.zarr", "hf-clap", "--model-path", folder), str(folder), message)


def test_hf_audio_refuses_a_text_model(corpus, models, tmp_path):
    assert_refused(embed(corpus, tmp_path / "s.zarr", "hf-audio", "--model-path", models["bert"]), "'bert' model", "not an audio encoder")


def test_hf_audio_sends_a_clap_folder_to_hf_clap(corpus, models, tmp_path):
    assert_refused(embed(corpus, tmp_path / "s.zarr", "hf-audio", "--model-path", models["clap"]), "--embedder hf-clap")


@pytest.mark.parametrize("layer, message", [("3", "--layer 3"), ("-4", "--layer -4"), ("top", "--layer 'top'")])
def test_hf_audio_layer_out_of_range(corpus, models, tmp_path, layer, message):
    result = embed(corpus, tmp_path / "s.zarr", "hf-audio", "--model-path", models["whisper"], "--layer", layer)
    assert_refused(result, message, "0 (embeddings)" if layer != "top" else "'mean'")


def test_hf_audio_refuses_windows_longer_than_whispers_30s(corpus, models, tmp_path):
    result = embed(corpus, tmp_path / "s.zarr", "hf-audio", "--model-path", models["whisper"], "--window-s", "40")
    assert_refused(result, "--window-s 40", "at most 30 s")


def test_features_already_written_are_kept(corpus, models, tmp_path):
    (tmp_path / "audio" / "broken.wav").unlink()
    lines = corpus.read_text().splitlines()
    corpus.write_text("\n".join(lines[:-1]) + "\n")
    assert embed(corpus, tmp_path / "s.zarr", "spectral").exit_code == 0
    before = FeatureStore.open(tmp_path / "s.zarr").audio("spectral")
    folder = copy(models, "clap", tmp_path)
    (folder / "model.safetensors").unlink()
    assert embed(corpus, tmp_path / "s.zarr", "hf-clap", "--model-path", folder).exit_code == 2
    store = FeatureStore.open(tmp_path / "s.zarr")
    assert store.embedders == ["spectral"] and (store.audio("spectral") == before).all()
