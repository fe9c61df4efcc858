"""``m2d``: M2D-CLAP (2025) through the authors' own ``portable_m2d.py`` and checkpoint.

Both files come from the user and stay where they are (their licence forbids
redistributing them, so clapmos never copies them): ``--m2d-portable`` names the
authors' ``portable_m2d.py``, imported from its path under a private module name, and
``--checkpoint`` names ``checkpoint-30.pth`` inside its release folder
``m2d_clap_vit_base-80x1001p16x16p16kpBpTI-2025/`` (the module reads the model's input
size from that folder name: keep the file in it). The module needs timm, einops and
nnAudio, and transformers for its BERT text tower; installing them is up to the user.

Audio: 16 kHz windows of 10 s go to ``PortableM2D.encode_clap_audio`` as a
``(batch, samples)`` tensor. Windows of equal length are batched together; a shorter
last window is embedded at its own length (the model handles short input itself)
rather than padded with silence. Text goes to ``encode_clap_text``. As with
LAION-CLAP, each vector is scaled to unit length (the model is trained on cosine
similarity) and the runner's clip vector is the re-normalised mean of its windows.

Frame tokens (``embed --frames``): the module's frame-level output,
``PortableM2D.get_timestamp_embeddings`` (its patch embeddings averaged over frequency,
768-d, one per 16 mel frames: 6.25 per second), per window as the module returns it.
It runs the encoder a second time (the clip vector comes from ``encode_clap_audio`` as
without frames), so ``--frames`` roughly doubles the cost of embedding with ``m2d``.

The test suite runs this backend on a stand-in module with the same interface; the
authors' real module is exercised only where a user supplies it.

>>> M2DEmbedder.sample_rate, M2DEmbedder.audio_dim, M2DEmbedder.text_dim
(16000, 768, 768)
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

from clapmos.embed.backends.base import Embedder
from clapmos.embed.backends.registry import register
from clapmos.embed.errors import ClapmosError

log = logging.getLogger(__name__)

MODULE_NAME = "_clapmos_user_portable_m2d"
MEL_HOP = 160  # samples per mel frame at 16 kHz
PATCH_FRAMES = 16  # mel frames per patch along time
UNIT_SAMPLES = 160_000  # the model encodes its input in units of 10 s
WHERE_M2D = (
    "Both files come from the M2D authors (github.com/nttcslab/m2d): portable_m2d.py is in the repository's "
    "examples/ folder, and checkpoint-30.pth is in the release archive "
    "m2d_clap_vit_base-80x1001p16x16p16kpBpTI-2025.zip on the repository's Releases page. Pass "
    "--m2d-portable PATH/portable_m2d.py --checkpoint PATH/m2d_clap_vit_base-80x1001p16x16p16kpBpTI-2025/checkpoint-30.pth "
    "(keep the checkpoint in its release folder)."
)


@register
class M2DEmbedder(Embedder):
    """M2D-CLAP, 16 kHz audio and BERT text, 768-d unit vectors.

    Options (keyword arguments, as the CLI passes them): ``m2d_portable`` and
    ``checkpoint`` (both required), ``precision`` (``fp32``, or ``fp16``/``bf16`` on CUDA).
    """

    name = "m2d"
    sample_rate = 16_000
    audio_dim = 768
    text_dim = 768
    window_s = 10.0
    hop_s = 10.0
    normalize = True
    description = "M2D-CLAP 2025 from the authors' portable_m2d.py + checkpoint-30.pth"
    accepted_options = ("checkpoint", "m2d_portable")
    frame_dim = 768
    frame_rate = 16_000 / MEL_HOP / PATCH_FRAMES
    frame_description = "PortableM2D.get_timestamp_embeddings (patch embeddings averaged over frequency)"

    _model: Any = None

    def load(self) -> None:
        if self._model is not None:
            return
        from clapmos.embed.backends.torch_device import resolve_device, resolve_precision
        from clapmos.embed.files import file_sha256, require_file

        self._device = resolve_device(self.device)
        self._precision = resolve_precision(self.options.get("precision", "fp32"), self._device)
        portable = require_file(self.options.get("m2d_portable"), "the path of the M2D authors' portable_m2d.py", WHERE_M2D, flag="--m2d-portable")
        checkpoint = require_file(self.options.get("checkpoint"), "M2D-CLAP's checkpoint-30.pth", WHERE_M2D, flag="--checkpoint")
        module = import_user_module(portable)
        if not callable(getattr(module, "PortableM2D", None)):
            raise ClapmosError(f"--m2d-portable {portable}: this file defines no PortableM2D class; pass the M2D authors' portable_m2d.py.")
        try:
            model = module.PortableM2D(weight_file=str(checkpoint), flat_features=True)
            model = model.to(self._device).eval()
        except Exception as error:
            raise ClapmosError(
                f"PortableM2D(weight_file={checkpoint}, flat_features=True) from {portable} failed: "
                f"{type(error).__name__}: {error}. Check that --checkpoint is M2D-CLAP's checkpoint-30.pth in its "
                "release folder and that portable_m2d.py is the authors' version for M2D-CLAP 2025."
            ) from None
        self._portable, self._portable_sha256 = portable, file_sha256(portable)
        self._checkpoint, self._sha256 = checkpoint, file_sha256(checkpoint)
        self._model = model
        log.info("m2d: loaded %s (sha256 %s) with %s on %s", checkpoint.name, self._sha256[:12], portable, self._device)

    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        import torch

        from clapmos.embed.backends.torch_device import autocast

        lengths = np.array([len(w) for w in windows])
        vectors = np.empty((len(windows), self.audio_dim), dtype=np.float32)
        with torch.no_grad(), autocast(self._device, self._precision):
            for length in np.unique(lengths):
                rows = np.flatnonzero(lengths == length)
                batch = torch.from_numpy(np.stack([np.asarray(windows[i], dtype=np.float32) for i in rows]))
                vectors[rows] = self._unit_rows(self._model.encode_clap_audio(batch.to(self._device)), len(rows), self.audio_dim, "encode_clap_audio")
        return vectors

    def embed_text(self, texts: list[str]) -> np.ndarray:
        import torch

        from clapmos.embed.backends.torch_device import autocast

        with torch.no_grad(), autocast(self._device, self._precision):
            return self._unit_rows(self._model.encode_clap_text(list(texts)), len(texts), self.text_dim, "encode_clap_text")

    def embed_frames(self, windows: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Window vectors as :meth:`embed_audio`, and ``get_timestamp_embeddings`` per window (equal lengths batched)."""
        import torch

        from clapmos.embed.backends.torch_device import autocast

        vectors = self.embed_audio(windows)
        lengths = np.array([len(w) for w in windows])
        tokens: list[np.ndarray] = [np.empty(0)] * len(windows)
        with torch.no_grad(), autocast(self._device, self._precision):
            for length in np.unique(lengths):
                rows = np.flatnonzero(lengths == length)
                batch = torch.from_numpy(np.stack([np.asarray(windows[i], dtype=np.float32) for i in rows]))
                output = self._model.get_timestamp_embeddings(batch.to(self._device))
                frames = output[0] if isinstance(output, tuple) else output
                array = np.asarray(frames.detach().float().cpu().numpy(), dtype=np.float32)
                limit = self.frame_count(int(length))
                if array.ndim != 3 or array.shape[0] != len(rows) or array.shape[2] != self.frame_dim or not 1 <= array.shape[1] <= limit:
                    raise ClapmosError(
                        f"{self._portable}: PortableM2D.get_timestamp_embeddings returned shape {array.shape} for {len(rows)} "
                        f"windows of {length} samples, expected ({len(rows)}, 1..{limit}, {self.frame_dim}); "
                        "is this the M2D-CLAP 2025 portable_m2d.py?"
                    )
                for k, i in enumerate(rows):
                    tokens[i] = array[k]
        return vectors, tokens

    def frame_count(self, n_samples: int) -> int:
        """An upper bound: one token per 16 mel frames begun, plus one per 10 s unit the model pads separately."""
        mel_frames = 1 + n_samples // MEL_HOP
        return -(-mel_frames // PATCH_FRAMES) + -(-n_samples // UNIT_SAMPLES)

    def _unit_rows(self, output: Any, n: int, dim: int, method: str) -> np.ndarray:
        array = np.asarray(output.detach().float().cpu().numpy() if hasattr(output, "detach") else output, dtype=np.float32)
        if array.shape != (n, dim):
            raise ClapmosError(
                f"{self._portable}: PortableM2D.{method} returned shape {array.shape} for {n} inputs, "
                f"expected ({n}, {dim}); is this the M2D-CLAP 2025 portable_m2d.py?"
            )
        return array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)

    def provenance(self) -> dict[str, Any]:
        return {
            "model": "M2D-CLAP 2025 (PortableM2D, flat_features=True)",
            "checkpoint": f"{self._checkpoint.parent.name}/{self._checkpoint.name}",
            "checkpoint_sha256": self._sha256,
            "m2d_portable": self._portable.name,
            "m2d_portable_sha256": self._portable_sha256,
            "audio_input": "16 kHz, 10 s windows, shorter windows at their own length; unit-length vectors",
            "device": str(self._device),
            "precision": self._precision,
        }


def import_user_module(path: Path) -> types.ModuleType:
    """Import the Python file ``path`` in place (never copied), under a private module name."""
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ClapmosError(f"--m2d-portable {path}: not a Python source file; pass the M2D authors' portable_m2d.py.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        del sys.modules[MODULE_NAME]
        raise ClapmosError(
            f"--m2d-portable {path}: importing it failed ({error}). The M2D module needs timm, einops and nnAudio "
            "(and transformers) in this environment: `pip install timm einops nnAudio`."
        ) from None
    except Exception as error:
        del sys.modules[MODULE_NAME]
        raise ClapmosError(f"--m2d-portable {path}: importing it failed: {type(error).__name__}: {error}") from None
    return module
