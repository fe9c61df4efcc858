"""``hf-audio``: an audio encoder from ``transformers`` (Whisper's encoder, WavLM, HuBERT, wav2vec 2.0, AST...).

``--model-path`` is a folder as ``hf download openai/whisper-base --local-dir DIR``
writes it; ``AutoModel`` and ``AutoFeatureExtractor`` load it offline (an
encoder-decoder such as Whisper gives its encoder). The clip vector is the
time-average of one hidden layer (``--layer N``: 0 is the embedding output, N the
output of transformer layer N, negative counts from the end; default the last;
``--layer mean`` averages every entry of ``hidden_states``), over the frames of real
audio only. Audio-only: ``text_dim = 0``, the store keeps no text for it.

How each kind of model is fed, and which frames are real:

* **Whisper** — the extractor pads every window to 30 s (the encoder takes nothing
  else), so windows are 30 s and a shorter one is averaged over its first
  ``ceil(mel frames / 2)`` encoder frames only (the encoder's stride-2 convolution,
  ``_get_feat_extract_output_lengths`` of the extractor's attention mask).
* **AST** — the extractor pads or cuts the filterbank to ``max_length`` frames
  (1024: windows of 10.255 s); the vector averages the patch tokens (not the two
  summary tokens) of the time columns that start within real frames.
* **Everything else** (wav2vec 2.0, HuBERT, WavLM, ...: raw-waveform extractors) —
  windows of 10 s; windows of equal length are batched together, so nothing is
  padded and every output frame is real.

Windows shorter than 25 ms (the end of a clip) are zero-padded to 25 ms, the shortest
input the convolutional front ends take.

>>> HfAudioEmbedder.text_dim, parse_layer("mean"), parse_layer("-1"), parse_layer(None)
(0, 'mean', -1, -1)
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from clapmos.embed.backends.base import Embedder
from clapmos.embed.backends.registry import register
from clapmos.embed.errors import ClapmosError

log = logging.getLogger(__name__)

WHERE_HF_AUDIO = (
    "Download an audio encoder in Hugging Face format once, e.g. "
    "`hf download openai/whisper-base --local-dir models/whisper-base` (or microsoft/wavlm-base-plus, "
    "facebook/hubert-base-ls960, facebook/wav2vec2-base, MIT/ast-finetuned-audioset-10-10-0.4593), "
    "and pass --model-path models/whisper-base."
)
SHORTEST_S = 0.025
AST = "audio-spectrogram-transformer"
UPSTREAM_NOISE = (  # warnings transformers and torch raise for the published models themselves: nothing a user can act on
    "At least one mel filter has all zero values",  # AST's own extractor settings
    "Support for mismatched key_padding_mask and attn_mask",  # torch, inside WavLM's attention
)


@contextlib.contextmanager
def quiet_upstream() -> Iterator[None]:
    """Hide :data:`UPSTREAM_NOISE` inside the block."""
    with warnings.catch_warnings():
        for message in UPSTREAM_NOISE:
            warnings.filterwarnings("ignore", message=message)
        yield


def parse_layer(layer: Any) -> int | str:
    """``--layer``: ``None``/``last`` -> -1, ``mean``, or an integer."""
    if layer is None or str(layer).strip().lower() in ("", "last"):
        return -1
    if str(layer).strip().lower() == "mean":
        return "mean"
    try:
        return int(str(layer).strip())
    except ValueError:
        raise ClapmosError(f"--layer {layer!r}: give a layer number (0 = embeddings, -1 = last), 'last' or 'mean'.") from None


@register
class HfAudioEmbedder(Embedder):
    """Any ``transformers`` audio encoder: time-averaged hidden states of one layer (or of all).

    Options: ``model_path`` (required), ``layer`` (default the last), ``precision``.
    ``sample_rate``, ``audio_dim`` and the window come from the loaded model.
    """

    name = "hf-audio"
    sample_rate = 16_000
    audio_dim = 0  # the encoder's hidden size, set by load()
    text_dim = 0
    window_s = 10.0
    hop_s = 10.0
    normalize = False
    description = "transformers audio encoder (Whisper, WavLM, HuBERT, wav2vec 2.0, AST) from --model-path; audio-only"
    accepted_options = ("model_path", "layer")

    _encoder: Any = None

    def load(self) -> None:
        if self._encoder is not None:
            return
        from transformers import AutoFeatureExtractor, AutoModel

        from clapmos.embed.backends.hf_folder import config_sha256, load_pretrained, model_folder, quiet_transformers, read_config
        from clapmos.embed.backends.hf_folder import extractor_file, weight_files, weights_identity
        from clapmos.embed.backends.torch_device import resolve_device, resolve_precision

        self._device = resolve_device(self.device)
        self._precision = resolve_precision(self.options.get("precision", "fp32"), self._device)
        layer = parse_layer(self.options.get("layer"))
        folder = model_folder(self.options.get("model_path"), "--model-path", "an audio encoder folder in Hugging Face format", WHERE_HF_AUDIO)
        config = read_config(folder, "--model-path")
        kind = config["model_type"]
        if kind == "clap":
            raise ClapmosError(f"--model-path {folder}: a CLAP model; embed it with --embedder hf-clap (audio and text).")
        files = weight_files(folder, "--model-path")
        if extractor_file(folder) is None:
            raise ClapmosError(
                f"--model-path {folder}: a {kind!r} model without a feature extractor (preprocessor_config.json or processor_config.json): "
                f"not an audio encoder. {WHERE_HF_AUDIO}"
            )
        try:
            with quiet_transformers(), quiet_upstream():
                extractor = AutoFeatureExtractor.from_pretrained(str(folder), local_files_only=True)
        except Exception as error:
            raise ClapmosError(f"--model-path {folder}: cannot load its feature extractor ({error}). {WHERE_HF_AUDIO}") from None
        model = load_pretrained(AutoModel, folder, "--model-path", allow_unexpected=True, hint=WHERE_HF_AUDIO)
        encoder = model.get_encoder() if getattr(model.config, "is_encoder_decoder", False) else model
        with quiet_transformers():
            self._encoder = encoder.to(self._device)
        self._extractor, self._kind = extractor, kind
        self.sample_rate = int(extractor.sampling_rate)
        if kind == "whisper":
            self.window_s = self.hop_s = self.max_window_s = float(extractor.n_samples) / self.sample_rate
        elif kind == AST:
            frames = int(extractor.max_length)
            self.window_s = self.hop_s = self.max_window_s = ((frames - 1) * 0.010 + 0.025)
        hidden = self._probe(folder)
        self._n_hidden, self.audio_dim = len(hidden), int(hidden[-1].shape[-1])
        if layer != "mean" and not -self._n_hidden <= layer < self._n_hidden:
            raise ClapmosError(
                f"--layer {layer}: {folder} has {self._n_hidden - 1} layers, so --layer takes 0 (embeddings) to "
                f"{self._n_hidden - 1} (or -{self._n_hidden} to -1, or mean)."
            )
        self._layer = layer
        self._folder, self._config, self._config_sha256 = folder, config, config_sha256(folder)
        self._sha256, self._weights = weights_identity(files)
        log.info("hf-audio: loaded %s (%s, %d layers, %d-d) on %s", folder, kind, self._n_hidden - 1, self.audio_dim, self._device)

    def _probe(self, folder: Any) -> tuple[Any, ...]:
        """Hidden states of one short silent window: how many there are and their size."""
        try:
            hidden, _ = self._forward([np.zeros(self.sample_rate // 2, dtype=np.float32)])
        except Exception as error:
            raise ClapmosError(
                f"--model-path {folder}: a forward pass of this {self._kind!r} model on 0.5 s of silence failed "
                f"({type(error).__name__}: {error}); hf-audio takes audio encoders. {WHERE_HF_AUDIO}"
            ) from None
        if not hidden:
            raise ClapmosError(f"--model-path {folder}: the {self._kind!r} model returns no hidden states. {WHERE_HF_AUDIO}")
        return hidden

    def _forward(self, windows: list[np.ndarray]) -> tuple[tuple[Any, ...], Any]:
        """``hidden_states`` of a batch, and per window how many output frames are real (``None``: all)."""
        import torch

        from clapmos.embed.backends.torch_device import autocast

        shortest = round(SHORTEST_S * self.sample_rate)
        batch = [np.pad(np.asarray(w, dtype=np.float32), (0, max(0, shortest - len(w)))) for w in windows]
        if self._kind == "whisper":
            inputs = self._extractor(batch, sampling_rate=self.sample_rate, return_attention_mask=True, return_tensors="pt")
            feed = {"input_features": inputs["input_features"]}
        else:
            inputs = self._extractor(batch, sampling_rate=self.sample_rate, return_tensors="pt")
            feed = dict(inputs)
        with torch.inference_mode(), autocast(self._device, self._precision), quiet_upstream():
            output = self._encoder(**{k: v.to(self._device) for k, v in feed.items()}, output_hidden_states=True)
        hidden = tuple(h.float() for h in (getattr(output, "hidden_states", None) or ()))
        if self._kind == "whisper":
            real = self._encoder._get_feat_extract_output_lengths(inputs["attention_mask"].sum(-1))
        elif self._kind == AST:
            window, shift = round(0.025 * self.sample_rate), round(0.010 * self.sample_rate)  # Kaldi filterbank frames
            real = np.minimum([1 + (len(w) - window) // shift for w in batch], int(self._extractor.max_length))
        else:
            real = None
        return hidden, real

    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        limit = getattr(self, "max_window_s", None)
        longest = max(len(w) for w in windows)
        if limit is not None and longest > round(limit * self.sample_rate):
            raise ClapmosError(f"hf-audio ({self._kind}) takes windows of at most {limit:g} s: use --window-s {limit:g} or less.")
        if self._kind in ("whisper", AST):  # padded to a fixed length anyway: one batch
            return self._pool(*self._forward(windows))
        lengths = np.array([len(w) for w in windows])
        vectors = np.empty((len(windows), self.audio_dim), dtype=np.float32)
        for length in np.unique(lengths):  # equal lengths: no padding, every frame is real
            rows = np.flatnonzero(lengths == length)
            vectors[rows] = self._pool(*self._forward([windows[i] for i in rows]))
        return vectors

    def _pool(self, hidden: tuple[Any, ...], real: Any) -> np.ndarray:
        """Time-average of the chosen layer (or of the mean of all layers) over each window's real frames."""
        import torch

        states = torch.stack(hidden).mean(0) if self._layer == "mean" else hidden[self._layer]
        if self._kind == AST:
            config = self._encoder.config
            f_dim = (config.num_mel_bins - config.patch_size) // config.frequency_stride + 1
            t_dim = (config.max_length - config.patch_size) // config.time_stride + 1
            patches = states[:, 2:, :].reshape(len(states), f_dim, t_dim, -1)
            columns = [max(1, min(t_dim, -(-int(n) // config.time_stride))) for n in real]
            vectors = [patches[i, :, :c, :].mean(dim=(0, 1)) for i, c in enumerate(columns)]
        elif real is not None:
            vectors = [states[i, : int(n), :].mean(dim=0) for i, n in enumerate(real)]
        else:
            vectors = list(states.mean(dim=1))
        return torch.stack(vectors).cpu().numpy().astype(np.float32)

    def provenance(self) -> dict[str, Any]:
        frames = {
            "whisper": "time-average over the encoder frames of real audio (the extractor pads to 30 s)",
            AST: "average of the patch tokens of time columns starting in real frames (summary tokens left out)",
        }.get(self._kind, "time-average over all output frames (equal-length windows batched, nothing padded)")
        return {
            "model": f"transformers AutoModel ({self._kind}, {type(self._encoder).__name__})",
            "checkpoint": self._folder.name,
            "checkpoint_sha256": self._sha256,
            "weights_sha256": self._weights,
            "model_config": self._config,
            "config_sha256": self._config_sha256,
            "layer": self._layer,
            "hidden_layers": self._n_hidden - 1,
            "pooling_frames": frames,
            "audio_input": f"soxr to {self.sample_rate} Hz; windows of {self.window_s:g} s; {type(self._extractor).__name__}",
            "device": str(self._device),
            "precision": self._precision,
        }
