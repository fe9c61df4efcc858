"""``hf-clap``: the LAION CLAP family in Hugging Face format (``transformers.ClapModel``) from a local folder.

``--model-path`` is a folder as ``hf download laion/larger_clap_music --local-dir DIR``
writes it (``config.json``, ``preprocessor_config.json`` or a processor's ``processor_config.json``, the tokenizer files, the
weights); nothing is ever downloaded. Checked before any audio is read: the folder's
``model_type`` is ``clap``, the weights fit the configuration key by key (a fusion
checkpoint under a non-fusion config, or the reverse, is refused by name), the
feature extractor and the tokenizer are there and the tokenizer fits the text tower.

Audio: the runner resamples each clip to the extractor's rate (48 kHz) with soxr and
cuts windows of the extractor's ``max_length_s`` (10 s), so the extractor never crops
at random. Each batch goes through ``ClapFeatureExtractor`` with the truncation mode
that matches ``config.audio_config.enable_fusion`` (its default, ``fusion``, crashes a
non-fusion model) and the folder's padding (``repeatpad`` as published: a short window
is tiled, then zero-padded), then ``ClapModel.get_audio_features``: projection, unit
length. For a fusion model no window is longer than 10 s, so every ``is_longer`` flag
is ``False``: the extractor's habit of marking one random clip of a batch as longer
when none is (a training device) is switched off, so a window's vector never depends
on its batch. A clip's vector is the re-normalised mean of its windows, as for ``clap``.

Text: the folder's tokenizer, padded per batch and truncated to the text tower's
positions (512 tokens), then ``ClapModel.get_text_features`` (unit length).

>>> HfClapEmbedder.sample_rate, HfClapEmbedder.audio_dim, HfClapEmbedder.text_dim
(48000, 512, 512)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clapmos.embed.backends.base import Embedder
from clapmos.embed.backends.registry import register
from clapmos.embed.errors import ClapmosError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractedWindow:
    """One window as ``ClapFeatureExtractor`` makes it: ``features`` of shape (1, channels, frames, mels)."""

    features: np.ndarray

WHERE_HF_CLAP = (
    "Download a LAION CLAP model in Hugging Face format once, e.g. "
    "`hf download laion/larger_clap_music --local-dir models/larger_clap_music` (also larger_clap_music_and_speech, "
    "larger_clap_general, clap-htsat-unfused, clap-htsat-fused), and pass --model-path models/larger_clap_music."
)
TOKENIZER_FILES = ("tokenizer.json", "vocab.json")


@register
class HfClapEmbedder(Embedder):
    """A ``transformers`` CLAP model: 48 kHz audio and RoBERTa text, unit vectors of ``projection_dim`` (512).

    Options (keyword arguments, as the CLI passes them): ``model_path`` (required),
    ``precision`` (``fp32``, or ``fp16``/``bf16`` on CUDA).
    """

    name = "hf-clap"
    sample_rate = 48_000
    audio_dim = 512
    text_dim = 512
    window_s = 10.0
    hop_s = 10.0
    max_window_s = 10.0
    normalize = True
    description = "LAION CLAP family in Hugging Face format (transformers.ClapModel) from --model-path"
    accepted_options = ("model_path",)

    _model: Any = None

    def load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel

        from clapmos.embed.backends.hf_folder import config_sha256, load_pretrained, model_folder, quiet_transformers, read_config
        from clapmos.embed.backends.hf_folder import weight_files, weights_identity
        from clapmos.embed.backends.torch_device import resolve_device, resolve_precision

        self._device = resolve_device(self.device)
        self._precision = resolve_precision(self.options.get("precision", "fp32"), self._device)
        folder = model_folder(self.options.get("model_path"), "--model-path", "a CLAP model folder in Hugging Face format", WHERE_HF_CLAP)
        config = read_config(folder, "--model-path")
        if config["model_type"] != "clap":
            other = " (an audio encoder: use --embedder hf-audio)" if "audio" in str(config.get("architectures", "")).lower() else ""
            raise ClapmosError(
                f"--model-path {folder}: a {config['model_type']!r} model{other}, not a CLAP model (model_type 'clap'). {WHERE_HF_CLAP}"
            )
        fusion = bool(config.get("audio_config", {}).get("enable_fusion", False))
        files = weight_files(folder, "--model-path")
        extractor = _load_part(ClapFeatureExtractor, folder, "preprocessor_config.json or processor_config.json", "the feature extractor")
        if not any((folder / name).is_file() for name in TOKENIZER_FILES):
            raise ClapmosError(f"--model-path {folder}: no tokenizer files (tokenizer.json, or vocab.json and merges.txt). {WHERE_HF_CLAP}")
        tokenizer = _load_part(AutoTokenizer, folder, "tokenizer.json", "the tokenizer")
        hint = (
            "Its config.json says enable_fusion: "
            f"{str(fusion).lower()}; the fusion layers (fusion_model, mel_conv2d) must be in the weights exactly when it is true. "
            + WHERE_HF_CLAP
        )
        model = load_pretrained(ClapModel, folder, "--model-path", allow_unexpected=False, hint=hint)
        text_positions = int(model.config.text_config.max_position_embeddings) - 2  # RoBERTa's offset of the padding index
        if not 10 < len(tokenizer) <= model.config.text_config.vocab_size:
            raise ClapmosError(
                f"--model-path {folder}: the tokenizer has {len(tokenizer):,} tokens but the text tower "
                f"{model.config.text_config.vocab_size:,}; the folder's tokenizer files do not belong to this model. {WHERE_HF_CLAP}"
            )
        with quiet_transformers():
            self._model = model.to(self._device)
        self._extractor, self._tokenizer = extractor, tokenizer
        self._truncation = "fusion" if fusion else "rand_trunc"
        self._max_tokens = min(text_positions, int(getattr(tokenizer, "model_max_length", text_positions)))
        self.sample_rate = int(extractor.sampling_rate)
        self.window_s = self.hop_s = self.max_window_s = float(extractor.nb_max_samples) / self.sample_rate
        self.audio_dim = self.text_dim = int(model.config.projection_dim)
        self._folder, self._config = folder, config
        self._config_sha256 = config_sha256(folder)
        self._sha256, self._weights = weights_identity(files)
        log.info("hf-clap: loaded %s (fusion %s, sha256 %s) on %s", folder, fusion, self._sha256[:12], self._device)

    def prepare_window(self, window: np.ndarray) -> ExtractedWindow:
        """The extractor's log-mel features of one window (run in the runner's reader threads)."""
        limit = int(self._extractor.nb_max_samples)
        if len(window) > limit:
            raise ClapmosError(
                f"hf-clap takes windows of at most {limit / self.sample_rate:g} s ({limit:,} samples), got {len(window):,}: "
                f"use --window-s {limit / self.sample_rate:g} or less."
            )
        inputs = self._extractor([np.asarray(window, dtype=np.float32)], sampling_rate=self.sample_rate, truncation=self._truncation, return_tensors="np")
        return ExtractedWindow(inputs["input_features"])

    def embed_audio(self, windows: list[np.ndarray | ExtractedWindow]) -> np.ndarray:
        import torch

        from clapmos.embed.backends.torch_device import autocast

        extracted = [w if isinstance(w, ExtractedWindow) else self.prepare_window(w) for w in windows]
        features = torch.from_numpy(np.concatenate([w.features for w in extracted]))  # each window padded alone: as one batch
        is_longer = torch.zeros((len(windows), 1), dtype=torch.bool)  # no window exceeds max_length (see the module docstring)
        with torch.inference_mode(), autocast(self._device, self._precision):
            output = self._model.get_audio_features(input_features=features.to(self._device), is_longer=is_longer.to(self._device))
        return output.pooler_output.float().cpu().numpy()

    def embed_text(self, texts: list[str]) -> np.ndarray:
        import torch

        from clapmos.embed.backends.torch_device import autocast

        tokens = self._tokenizer(list(texts), padding=True, truncation=True, max_length=self._max_tokens, return_tensors="pt")
        with torch.inference_mode(), autocast(self._device, self._precision):
            output = self._model.get_text_features(
                input_ids=tokens["input_ids"].to(self._device), attention_mask=tokens["attention_mask"].to(self._device)
            )
        return output.pooler_output.float().cpu().numpy()

    def provenance(self) -> dict[str, Any]:
        return {
            "model": f"transformers ClapModel ({'fusion' if self._truncation == 'fusion' else 'non-fusion'})",
            "checkpoint": self._folder.name,
            "checkpoint_sha256": self._sha256,
            "weights_sha256": self._weights,
            "model_config": self._config,
            "config_sha256": self._config_sha256,
            "feature_extractor": f"ClapFeatureExtractor, truncation {self._truncation}, padding {self._extractor.padding}",
            "text_tokens": self._max_tokens,
            "audio_input": f"soxr to {self.sample_rate} Hz; windows of at most {self.window_s:g} s; is_longer False",
            "device": str(self._device),
            "precision": self._precision,
        }


def _load_part(part_class: Any, folder: Path, file_name: str, what: str) -> Any:
    """The feature extractor or tokenizer of ``folder`` (offline); an error naming the folder otherwise."""
    from clapmos.embed.backends.hf_folder import extractor_file, quiet_transformers

    if file_name != "tokenizer.json" and extractor_file(folder) is None:
        raise ClapmosError(f"--model-path {folder}: no {file_name} ({what}). {WHERE_HF_CLAP}")
    try:
        with quiet_transformers():
            return part_class.from_pretrained(str(folder), local_files_only=True)
    except Exception as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ClapmosError(f"--model-path {folder}: cannot load {what} ({file_name}): {detail}. {WHERE_HF_CLAP}") from None
