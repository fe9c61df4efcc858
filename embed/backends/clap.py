"""``clap``: LAION-CLAP (HTSAT-base audio tower, non-fusion, RoBERTa text tower) from the user's checkpoint.

Audio: the runner reads each clip, resamples all of it to 48 kHz with soxr and cuts
windows of 480,000 samples (10 s; hop 10 s unless ``--hop-s`` says otherwise). Each
batch of windows goes through laion-clap's own
``CLAP_Module.get_audio_embedding_from_data``: int16 round trip, a short window tiled
then zero-padded to 480,000 samples, HTSAT, projection, unit length. No window is
longer than 480,000 samples, so the package's random crop never runs and a file
always gives the same vector. The runner averages a clip's window vectors and
re-normalises the mean to unit length.

Text: ``CLAP_Module.get_text_embedding``, i.e. the package's RoBERTa tokenisation
padded or truncated to 77 tokens; 512-d unit vectors.

Frame tokens (``embed --frames``): HTSAT's last feature map averaged over frequency,
32 tokens of 1,024 per 10 s window (one per 0.3125 s), taken from the same forward
pass as the clip vector: the audio tower's ``fine_grained_embedding`` (which the
package builds by repeating each token 32 times) is read by a forward hook and every
32nd frame kept. A window shorter than 10 s, which the package tiles, keeps only the
tokens that begin within its real audio.

Weights (``--checkpoint``, e.g. ``music_audioset_epoch_15_esc_90.14.pt``): read with
``torch.load(weights_only=True)`` (see :mod:`clapmos.embed.backends.weights`), unwrapped from
``state_dict`` and ``module.`` prefixes, checked key by key and shape by shape against
the model, then loaded strictly; ``text_branch.embeddings.position_ids`` (present in
checkpoints saved with older transformers) is dropped only when the model has no such
buffer. The text tower's depth and vocabulary are read from the checkpoint, so the
published files get roberta-base's 12 layers and 50,265 tokens, and the tokenizer
must have exactly as many tokens. All of this happens in :meth:`ClapEmbedder.load`,
before any audio is read. laion-clap is imported only there (see
:mod:`clapmos.embed.backends.laion_package` for how it is kept offline).

>>> import torch
>>> layers = {f"text_branch.encoder.layer.{i}.output.dense.bias": torch.zeros(1) for i in range(12)}
>>> state = {"audio_branch.bn0.bias": torch.zeros(1), WORD_EMBEDDINGS: torch.zeros(50265, 1), **layers}
>>> text_tower_shape(state, Path("music_audioset_epoch_15_esc_90.14.pt"))
(12, 50265)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from clapmos.embed.backends.base import Embedder
from clapmos.embed.backends.registry import register
from clapmos.embed.errors import ClapmosError, listing

log = logging.getLogger(__name__)

CLIP_SAMPLES = 480_000
TOKENS_PER_WINDOW = 32  # HTSAT's time resolution after its last stage
SAMPLES_PER_TOKEN = CLIP_SAMPLES // TOKENS_PER_WINDOW  # 15,000 samples = 0.3125 s at 48 kHz
POSITION_IDS = "text_branch.embeddings.position_ids"
WORD_EMBEDDINGS = "text_branch.embeddings.word_embeddings.weight"
TEXT_LAYER = re.compile(r"text_branch\.encoder\.layer\.(\d+)\.")
WHERE_CHECKPOINTS = (
    "LAION publishes the HTSAT-base checkpoints in the Hugging Face repo lukewys/laion_clap: "
    "music_audioset_epoch_15_esc_90.14.pt (music; the one MusicEval uses), music_speech_epoch_15_esc_89.25.pt "
    "and music_speech_audioset_epoch_15_esc_89.98.pt; e.g. "
    "`hf download lukewys/laion_clap music_audioset_epoch_15_esc_90.14.pt --local-dir checkpoints`, "
    "then pass --checkpoint checkpoints/music_audioset_epoch_15_esc_90.14.pt."
)
HOW_TO_GET_TOKENIZER = (
    "Fetch roberta-base's tokenizer once on a machine with network, e.g. "
    "`hf download FacebookAI/roberta-base vocab.json merges.txt tokenizer.json --local-dir roberta-base`, "
    "and pass --tokenizer roberta-base (or keep roberta-base in the Hugging Face cache)."
)


@register
class ClapEmbedder(Embedder):
    """LAION-CLAP, 48 kHz audio and RoBERTa text, 512-d unit vectors.

    Options (keyword arguments, as the CLI passes them): ``checkpoint`` (required),
    ``tokenizer`` (a folder; default: roberta-base from the Hugging Face cache),
    ``precision`` (``fp32``, or ``fp16``/``bf16`` on CUDA).
    """

    name = "clap"
    sample_rate = 48_000
    audio_dim = 512
    text_dim = 512
    window_s = 10.0
    hop_s = 10.0
    normalize = True
    description = "LAION-CLAP HTSAT-base + RoBERTa from --checkpoint (e.g. the music one)"
    accepted_options = ("checkpoint", "tokenizer")
    frame_dim = 1024
    frame_rate = 48_000 / SAMPLES_PER_TOKEN
    frame_description = "HTSAT-base last feature map averaged over frequency (fine_grained_embedding, every 32nd frame)"

    _module: Any = None

    def load(self) -> None:
        if self._module is not None:
            return
        from clapmos.embed.backends.laion_package import build_clap_module
        from clapmos.embed.backends.torch_device import resolve_device, resolve_precision
        from clapmos.embed.backends.weights import load_checkpoint
        from clapmos.embed.files import file_sha256, require_file

        self._device = resolve_device(self.device)
        self._precision = resolve_precision(self.options.get("precision", "fp32"), self._device)
        path = require_file(self.options.get("checkpoint"), "the LAION-CLAP HTSAT-base .pt file", WHERE_CHECKPOINTS, flag="--checkpoint")
        state = clap_state_dict(load_checkpoint(path), path)
        layers, vocab_size = text_tower_shape(state, path)
        tokenizer, self._tokenizer_source = load_tokenizer(self.options.get("tokenizer"), vocab_size)
        module = build_clap_module(tokenizer, text_layers=layers, vocab_size=vocab_size, device=str(self._device))
        expected = module.model.state_dict()
        if POSITION_IDS not in expected:
            state.pop(POSITION_IDS, None)
        check_keys_and_shapes(state, expected, path)
        module.model.load_state_dict(state, strict=True)
        del state
        self._text_layers, self._vocab_size = layers, vocab_size
        self._checkpoint, self._sha256 = path, file_sha256(path)
        self._module = module
        log.info("clap: loaded %s (sha256 %s) on %s in %s", path.name, self._sha256[:12], self._device, self._precision)

    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        import torch

        from clapmos.embed.backends.torch_device import autocast

        batch = self._checked_batch(windows)
        with torch.inference_mode(), autocast(self._device, self._precision):
            vectors = self._module.get_audio_embedding_from_data(batch, use_tensor=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_frames(self, windows: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The package's clip vectors, and the tokens its audio tower computed on the way (see the module docstring)."""
        captured = []
        hook = self._module.model.audio_branch.register_forward_hook(
            lambda module, inputs, output: captured.append(output["fine_grained_embedding"].detach())
        )
        try:
            vectors = self.embed_audio(windows)
        finally:
            hook.remove()
        fine = captured[0].float().cpu().numpy()  # (windows, 1024 frames, 1024): each token repeated 32 times
        step = fine.shape[1] // TOKENS_PER_WINDOW
        tokens = [fine[i, ::step][: self.frame_count(len(w))].astype(np.float32) for i, w in enumerate(windows)]
        return vectors, tokens

    def frame_count(self, n_samples: int) -> int:
        """One token per 0.3125 s begun of the window's real audio (at most 32)."""
        return max(1, -(-min(n_samples, CLIP_SAMPLES) // SAMPLES_PER_TOKEN))

    def _checked_batch(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        longest = max(len(w) for w in windows)
        if longest > CLIP_SAMPLES:
            raise ClapmosError(
                f"clap takes windows of at most 10 s ({CLIP_SAMPLES:,} samples at 48 kHz), got {longest:,} samples: "
                "use --window-s 10 or less (and --hop-s for the step between windows)."
            )
        return [np.asarray(w, dtype=np.float32) for w in windows]

    def embed_text(self, texts: list[str]) -> np.ndarray:
        import torch

        from clapmos.embed.backends.torch_device import autocast

        with torch.inference_mode(), autocast(self._device, self._precision):
            vectors = self._module.get_text_embedding(list(texts), use_tensor=False)
        return np.asarray(vectors, dtype=np.float32)

    def provenance(self) -> dict[str, Any]:
        return {
            "model": "LAION-CLAP HTSAT-base, non-fusion, RoBERTa text tower (laion_clap.CLAP_Module)",
            "checkpoint": self._checkpoint.name,
            "checkpoint_sha256": self._sha256,
            "text_tower_layers": self._text_layers,
            "tokenizer": self._tokenizer_source,
            "tokenizer_vocab": self._vocab_size,
            "text_tokens": 77,
            "audio_input": "soxr to 48 kHz; windows of 480,000 samples; int16 round trip; short windows tiled then zero-padded",
            "device": str(self._device),
            "precision": self._precision,
        }


def clap_state_dict(checkpoint: Any, path: Path) -> dict[str, Any]:
    """The tensors of a LAION-CLAP checkpoint, unwrapped from ``state_dict`` and ``module.`` prefixes."""
    import torch

    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, Mapping) else checkpoint
    if not isinstance(state, Mapping) or not state:
        raise ClapmosError(f"{path} is not a LAION-CLAP checkpoint: it holds a {type(state).__name__}, not a state dict of tensors.")
    others = [f"{k}: {type(v).__name__}" for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if others:
        raise ClapmosError(f"{path} is not a LAION-CLAP state dict: {len(others)} entries are not tensors:\n{listing(others, 5)}")
    return {str(k).removeprefix("module."): v for k, v in state.items()}


def text_tower_shape(state: Mapping[str, Any], path: Path) -> tuple[int, int]:
    """Number of RoBERTa layers and vocabulary size of the checkpoint's text tower."""
    layers = {int(m.group(1)) for key in state if (m := TEXT_LAYER.match(key))}
    embeddings = state.get(WORD_EMBEDDINGS)
    has_audio = any(key.startswith("audio_branch.") for key in state)
    if not layers or embeddings is None or embeddings.ndim != 2 or not has_audio:
        raise ClapmosError(
            f"{path} is not a LAION-CLAP HTSAT-base checkpoint: it lacks CLAP's audio_branch.* and "
            f"text_branch.* (RoBERTa) weights. Its first keys are:\n{listing(list(state)[:5])}\n{WHERE_CHECKPOINTS}"
        )
    return max(layers) + 1, int(embeddings.shape[0])


def check_keys_and_shapes(state: Mapping[str, Any], expected: Mapping[str, Any], path: Path) -> None:
    """Raise one error naming missing, unexpected and mis-shaped keys (a few of each)."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{key}: {tuple(state[key].shape)} in the file, {tuple(expected[key].shape)} in HTSAT-base"
        for key in sorted(set(state) & set(expected))
        if tuple(state[key].shape) != tuple(expected[key].shape)
    ]
    problems = [
        f"{len(keys)} {what}:\n{listing(keys, 4)}"
        for what, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched))
        if keys
    ]
    if problems:
        raise ClapmosError(
            f"{path} is not a LAION-CLAP HTSAT-base non-fusion checkpoint:\n" + "\n".join(problems) + "\n"
            "The 630k-*.pt checkpoints are HTSAT-tiny and the *fusion* ones need the fusion model; neither fits. "
            + WHERE_CHECKPOINTS
        )


def load_tokenizer(folder: str | Path | None, vocab_size: int) -> tuple[Any, str]:
    """RoBERTa tokenizer from ``folder`` or the Hugging Face cache (never downloaded), with ``vocab_size`` tokens."""
    from transformers import RobertaTokenizer

    if folder is not None:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise ClapmosError(f"--tokenizer {folder}: no such folder. {HOW_TO_GET_TOKENIZER}")
        try:
            tokenizer = RobertaTokenizer.from_pretrained(str(folder), local_files_only=True)
        except Exception as error:
            raise ClapmosError(f"--tokenizer {folder}: not a RoBERTa tokenizer folder ({error}). {HOW_TO_GET_TOKENIZER}") from None
        source = str(folder)
    else:
        tokenizer, source = None, "roberta-base"
        for name in ("roberta-base", "FacebookAI/roberta-base"):
            try:
                tokenizer, source = RobertaTokenizer.from_pretrained(name, local_files_only=True), name
            except Exception:
                continue
            if len(tokenizer) == vocab_size:
                break
        if tokenizer is None:
            raise ClapmosError(f"roberta-base's tokenizer is not in the Hugging Face cache. {HOW_TO_GET_TOKENIZER}")
    if len(tokenizer) != vocab_size:
        placeholder = (
            " (transformers returns such a placeholder, without error, when the tokenizer files are missing)"
            if len(tokenizer) < 10
            else ""
        )
        raise ClapmosError(
            f"the RoBERTa tokenizer from {source} has {len(tokenizer):,} tokens{placeholder}, but the checkpoint's "
            f"text tower has {vocab_size:,} (roberta-base: 50,265). {HOW_TO_GET_TOKENIZER}"
        )
    return tokenizer, source
