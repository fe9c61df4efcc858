"""hf-clap and hf-audio read every folder layout transformers loads: the feature extractor's settings in
``preprocessor_config.json`` (``FeatureExtractor.save_pretrained``) or in ``processor_config.json``
(``Processor.save_pretrained`` of the installed transformers). Random-weight models, nothing downloaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clapmos.embed.store import FeatureStore
from tests.hf_models import clap_folder, wavlm_folder, write_clips

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hf_layouts")


@pytest.fixture(scope="module")
def manifest(workdir) -> Path:
    return write_clips(workdir / "audio", {"short": (3.0, 48_000), "two_windows": (12.0, 16_000)}, ["a calm piano", "loud drums"])


def embed(manifest: Path, embedder: str, model: Path, out: Path) -> FeatureStore:
    from clapmos.cli import app

    args = ["embed", "--corpus", "manifest", "--root", str(manifest), "--embedder", embedder, "--model-path", str(model)]
    result = CliRunner().invoke(app, [*args, "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return FeatureStore.open(out)


def as_processor_folder(folder: Path, out: Path, processor) -> Path:
    """``folder`` with its extractor saved the other way: ``processor.save_pretrained`` instead of the extractor's own file."""
    shutil.copytree(folder, out)
    (out / "preprocessor_config.json").unlink()
    processor.save_pretrained(out)
    assert (out / "processor_config.json").is_file() and not (out / "preprocessor_config.json").exists()
    return out


def test_hf_clap_reads_a_folder_saved_with_clap_processor(workdir, manifest):
    from transformers import AutoTokenizer, ClapFeatureExtractor, ClapProcessor

    own = clap_folder(workdir / "clap")
    processor = ClapProcessor(ClapFeatureExtractor.from_pretrained(own), AutoTokenizer.from_pretrained(own))
    saved = as_processor_folder(own, workdir / "clap_processor", processor)
    a = embed(manifest, "hf-clap", own, workdir / "own.zarr")
    b = embed(manifest, "hf-clap", saved, workdir / "processor.zarr")
    for kind in ("audio", "text"):
        np.testing.assert_array_equal(getattr(a, kind)("hf-clap"), getattr(b, kind)("hf-clap"))


def test_hf_audio_reads_a_folder_saved_with_a_processor(workdir, manifest):
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2Processor

    own = wavlm_folder(workdir / "wavlm")
    (workdir / "vocab.json").write_text(json.dumps({"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, "a": 5}))
    processor = Wav2Vec2Processor(Wav2Vec2FeatureExtractor.from_pretrained(own), Wav2Vec2CTCTokenizer(str(workdir / "vocab.json")))
    saved = as_processor_folder(own, workdir / "wavlm_processor", processor)
    a = embed(manifest, "hf-audio", own, workdir / "own_audio.zarr")
    b = embed(manifest, "hf-audio", saved, workdir / "processor_audio.zarr")
    np.testing.assert_array_equal(a.audio("hf-audio"), b.audio("hf-audio"))
