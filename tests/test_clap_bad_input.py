"""What the ``clap`` embedder refuses, and how: bad checkpoints, tokenizers, devices; offline import.

Every refusal is a :class:`ClapmosError` naming the file and what to do, raised by
``load()``, i.e. before the runner reads any audio.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from clapmos.embed.backends import create_embedder
from clapmos.embed.backends import torch_device
from clapmos.embed.backends.clap import WORD_EMBEDDINGS, ClapEmbedder
from clapmos.embed.errors import ClapmosError
from tests.test_clap_equivalence import build_reference_module, save_test_tokenizer, save_upstream_style

pytestmark = pytest.mark.filterwarnings("ignore:torch.meshgrid")
ROOT = Path(__file__).resolve().parent.parent


def load_clap(checkpoint: Path | None = None, tokenizer: Path | None = None, **options) -> ClapEmbedder:
    given = {"checkpoint": checkpoint, "tokenizer": tokenizer}
    embedder = create_embedder("clap", device="cpu", **{k: v for k, v in given.items() if v is not None}, **options)
    embedder.load()
    return embedder


def clap_shaped_state(vocab: int = 50265) -> dict[str, torch.Tensor]:
    """The few keys by which a file is recognised as LAION-CLAP (not loadable: most weights are absent)."""
    return {
        "module.audio_branch.patch_embed.proj.bias": torch.zeros(128),
        "module.text_branch.encoder.layer.0.output.dense.bias": torch.zeros(768),
        f"module.{WORD_EMBEDDINGS}": torch.zeros(vocab, 1),
    }


@pytest.fixture
def tokenizer_dir(tmp_path) -> Path:
    return save_test_tokenizer(tmp_path / "tokenizer")


# --------------------------------------------------------------------------- the checkpoint file
def test_missing_checkpoint_says_which_official_file_to_pass_and_where_it_is_published():
    with pytest.raises(ClapmosError) as error:
        load_clap()
    message = str(error.value)
    assert "--checkpoint" in message
    assert "music_audioset_epoch_15_esc_90.14.pt" in message
    assert "lukewys/laion_clap" in message


def test_checkpoint_path_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(ClapmosError, match=r"nope\.pt: does not exist"):
        load_clap(tmp_path / "nope.pt")


def test_pickle_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.makedirs, (str(marker),))

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": Payload()}, path)
    with pytest.raises(ClapmosError) as error:
        load_clap(path)
    assert "evil.pt: refused to load" in str(error.value)
    assert "os.makedirs" in str(error.value) and "run code" in str(error.value)
    assert not marker.exists()


def test_file_that_is_not_a_torch_checkpoint_is_named(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("these are not weights\n")
    with pytest.raises(ClapmosError, match=r"notes\.pt: not a PyTorch checkpoint"):
        load_clap(path)


def test_state_dict_of_another_model_is_refused_naming_its_keys(tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3), "fc.bias": torch.zeros(10)}, path)
    with pytest.raises(ClapmosError) as error:
        load_clap(path)
    message = str(error.value)
    assert "resnet.pt is not a LAION-CLAP HTSAT-base checkpoint" in message
    assert "conv1.weight" in message and "fc.bias" in message


def test_state_dict_with_non_tensor_entries_is_refused(tmp_path):
    path = tmp_path / "odd.pt"
    torch.save({"state_dict": {"a.weight": torch.zeros(1), "note": "hello", "step": 3}}, path)
    with pytest.raises(ClapmosError, match=r"2 entries are not tensors"):
        load_clap(path)


def test_htsat_tiny_checkpoint_lists_missing_keys_and_shape_mismatches(tmp_path, tokenizer_dir):
    tiny = save_upstream_style(build_reference_module(tokenizer_dir, amodel="HTSAT-tiny"), tmp_path / "630k-best.pt")
    with pytest.raises(ClapmosError) as error:
        load_clap(tiny, tokenizer_dir)
    message = str(error.value)
    assert "630k-best.pt is not a LAION-CLAP HTSAT-base non-fusion checkpoint" in message
    assert "87 missing keys:\n  audio_branch.layers.2.blocks.10.attn.proj.bias" in message  # tiny has 6 blocks, base 12
    assert "shape mismatches" in message
    assert "audio_branch.layers.0.blocks.0.attn.qkv.weight: (288, 96) in the file, (384, 128) in HTSAT-base" in message


def test_bad_checkpoint_is_refused_before_any_audio_is_read(tmp_path, monkeypatch):
    import clapmos.embed.engines.runner
    import clapmos.embed.engines.sequence
    from clapmos.cli import app

    def no_audio(*args, **kwargs):
        raise AssertionError("audio was read before the checkpoint was checked")

    monkeypatch.setattr(clapmos.embed.engines.sequence, "check_audio_files", no_audio)
    monkeypatch.setattr(clapmos.embed.engines.runner, "stream_windows", no_audio)
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    pd.DataFrame({"path": ["a.wav"], "text": ["quiet"]}).to_csv(tmp_path / "m.csv", index=False)
    bad = tmp_path / "resnet.pt"
    torch.save({"fc.bias": torch.zeros(10)}, bad)
    args = ["embed", "--corpus", "manifest", "--root", str(tmp_path / "m.csv"), "--out", str(tmp_path / "s.zarr")]
    result = CliRunner().invoke(app, [*args, "--embedder", "clap", "--checkpoint", str(bad), "--device", "cpu"])
    assert result.exit_code == 2
    assert "is not a LAION-CLAP HTSAT-base checkpoint" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- the tokenizer
def test_placeholder_tokenizer_is_refused_for_real_roberta_weights_with_how_to_fix(tmp_path):
    checkpoint = tmp_path / "clap.pt"
    torch.save({"state_dict": clap_shaped_state(vocab=50265)}, checkpoint)
    empty = tmp_path / "no-tokenizer-files"
    empty.mkdir()
    with pytest.raises(ClapmosError) as error:
        load_clap(checkpoint, empty)
    message = str(error.value)
    assert "has 5 tokens" in message and "placeholder" in message and "50,265" in message
    assert "--tokenizer" in message and "hf download FacebookAI/roberta-base" in message


def test_tokenizer_that_does_not_match_the_text_tower_is_refused(tmp_path, tokenizer_dir):
    checkpoint = tmp_path / "clap.pt"
    torch.save({"state_dict": clap_shaped_state(vocab=300)}, checkpoint)
    with pytest.raises(ClapmosError, match=r"has 261 tokens, but the checkpoint's text tower has 300"):
        load_clap(checkpoint, tokenizer_dir)


def test_tokenizer_folder_that_does_not_exist_is_named(tmp_path):
    checkpoint = tmp_path / "clap.pt"
    torch.save({"state_dict": clap_shaped_state()}, checkpoint)
    with pytest.raises(ClapmosError, match=r"--tokenizer .*missing-dir: no such folder"):
        load_clap(checkpoint, tmp_path / "missing-dir")


# --------------------------------------------------------------------------- windows, device, precision
def test_windows_longer_than_ten_seconds_are_refused_rather_than_randomly_cropped():
    with pytest.raises(ClapmosError, match=r"--window-s 10 or less"):
        ClapEmbedder().embed_audio([np.zeros(480_001, dtype=np.float32)])


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ClapmosError, match=r"--device cuda: torch sees no CUDA GPU"):
        torch_device.resolve_device("cuda")
    assert torch_device.resolve_device("auto") == torch.device("cpu")


def test_auto_device_picks_cuda_when_torch_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert torch_device.resolve_device("auto") == torch.device("cuda")


def test_half_precision_on_cpu_runs_fp32_and_warns_once(monkeypatch, caplog):
    monkeypatch.setattr(torch_device, "_warned_cpu_half", False)
    with caplog.at_level(logging.WARNING, logger="clapmos.embed.backends.torch_device"):
        assert torch_device.resolve_precision("fp16", torch.device("cpu")) == "fp32"
        assert torch_device.resolve_precision("bf16", torch.device("cpu")) == "fp32"
    assert [r.message for r in caplog.records] == ["--precision fp16 applies on CUDA only; running in fp32 on cpu"]
    assert torch_device.resolve_precision("bf16", torch.device("cuda")) == "bf16"


def test_unknown_device_and_precision_are_named():
    with pytest.raises(ClapmosError, match=r"--device 'tpu'"):
        torch_device.resolve_device("tpu")
    with pytest.raises(ClapmosError, match=r"--precision 'int8'"):
        torch_device.resolve_precision("int8", torch.device("cpu"))


# --------------------------------------------------------------------------- importing laion-clap
CHILD = """
import json, logging, sys
sys.modules["torchvision"] = None  # torchvision absent, as on the project machines
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s: %(message)s")
from clapmos.embed.backends.laion_package import import_laion_clap
import_laion_clap()
from transformers.utils.import_utils import is_torchvision_available
print(json.dumps({"stand_in": type(sys.modules["torchvision"]).__name__, "torchvision_available": is_torchvision_available()}))
"""


class FakeHub:
    """A local HTTP endpoint answering 404 to everything and recording the paths asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                request = connection.recv(65536).decode("latin-1")
                self.paths.append(request.split(" ")[1] if " " in request else request)
                connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def test_laion_clap_imports_without_fetching_from_the_hub_or_torchvision(tmp_path):
    hub = FakeHub()
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "empty-hf-home"))
    child = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    hub.server.close()
    assert child.returncode == 0, child.stderr[-3000:]
    # (huggingface_hub may still fetch its own telemetry registry; no model or tokenizer file is asked for)
    assert [p for p in hub.paths if any(name in p for name in ("roberta", "bert", "bart", "/resolve/"))] == []
    assert json.loads(child.stdout.strip().splitlines()[-1]) == {"stand_in": "_TorchvisionStandIn", "torchvision_available": False}
    assert "installed a stand-in module so that laion_clap imports" in child.stderr
