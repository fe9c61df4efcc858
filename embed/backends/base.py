"""The contract every embedding backend fulfils.

An embedder turns windows of mono audio at its own ``sample_rate`` into one vector
per window, and texts into one vector per text. Everything else (reading files,
resampling, cutting windows, batching across clips, pooling windows into a clip
vector, writing the store) is done once, by :mod:`clapmos.embed.engines.runner`, for all backends.

To add a backend, write one module in ``embed/backends/`` with a subclass of
:class:`Embedder` decorated with :func:`clapmos.embed.backends.registry.register` and import
it in ``embed/backends/__init__.py``; see the README section "Adding an embedder".
A class outside clapmos is a plugin (``--embedder file.py:Class`` or the
``clapmos.embedders`` entry-point group, see :mod:`clapmos.embed.backends.plugins`).

An **audio-only** embedder declares ``text_dim = 0`` and need not implement
:meth:`Embedder.embed_text`: the runner embeds no text for it and the store keeps no
``text`` array. Attributes that only the loaded model knows (the dimension of an
``hf-audio`` encoder, Whisper's 30 s window) may be set on the instance by
:meth:`Embedder.load`; the runner reads them after loading.

An embedder *can give frames* (``embed --frames``) when it declares ``frame_dim`` and
``frame_rate`` and implements :meth:`Embedder.embed_frames`: the window vectors and,
per window, its sequence of frame tokens, from one forward pass. The runner joins a
clip's windows' tokens into one sequence and the store lays them out before any
audio is read, from :meth:`Embedder.frame_count`.

>>> class Silence(Embedder):
...     name, sample_rate, audio_dim, text_dim = "silence", 16000, 2, 0
...     def embed_audio(self, windows):
...         return np.zeros((len(windows), 2), dtype=np.float32)
>>> Silence().embed_audio([np.zeros(10)]).shape
(1, 2)

"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from clapmos.embed.errors import ClapmosError


class Embedder(ABC):
    """Base class of audio/text embedders.

    Class attributes describe the model; instances hold the loaded weights.

    Attributes
    ----------
    name : str
        Registry name, also the group name under ``features/`` in the store (an instance
        made with ``name=...`` stores its features under that name instead).
    sample_rate : int
        Rate (Hz) the audio windows must have; the runner resamples to it.
    audio_dim, text_dim : int
        Sizes of the audio and text vectors; ``text_dim = 0`` for an audio-only embedder.
    window_s, hop_s : float
        Default window and hop (seconds) for cutting clips.
    max_window_s : float or None
        Longest window the model takes (a longer ``--window-s`` is refused before any audio is read).
    normalize : bool
        Whether the pooled clip vector is re-normalised to unit length.
    frame_dim : int
        Width of a frame token; 0 (the default) for an embedder that gives no frames.
    frame_rate : float
        Frame tokens per second of audio within a window.
    frame_description : str
        What a token is (recorded in the store; a change makes stored frames stale).
    accepted_options : tuple of str or None
        The options it reads besides ``device``, ``batch_size``, ``name`` and ``precision``
        (``checkpoint``, ``model_path``...): ``embed`` refuses the others rather than
        ignore them. ``None`` (a plugin that does not say) takes any.
    """

    name: ClassVar[str]
    sample_rate: ClassVar[int]
    audio_dim: ClassVar[int]
    text_dim: ClassVar[int]
    window_s: ClassVar[float] = 10.0
    hop_s: ClassVar[float] = 10.0
    max_window_s: ClassVar[float | None] = None
    normalize: ClassVar[bool] = False
    description: ClassVar[str] = ""
    frame_dim: ClassVar[int] = 0
    frame_rate: ClassVar[float] = 0.0
    frame_description: ClassVar[str] = ""
    accepted_options: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, device: str = "auto", batch_size: int = 8, name: str | None = None, **options: Any) -> None:
        self.device = device
        self.batch_size = batch_size
        self.options = options
        if name is not None:  # the features' name in the store, so that two models of one backend can live side by side
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", str(name)):
                raise ClapmosError(f"--name {name!r}: use letters, digits and _ . - only (it names a group of the store).")
            self.name = str(name)

    def load(self) -> None:
        """Load weights (and fail early on a bad checkpoint). Called once, before any audio is read."""

    def prepare_window(self, window: np.ndarray) -> Any:
        """Per-window work that needs no batch (a feature extractor's spectrogram); the default keeps the window.

        The runner calls it in its reader threads, beside decoding and resampling, so it
        overlaps the model's forward passes; :meth:`embed_audio` (and :meth:`embed_frames`)
        then receive what it returns. They must still accept plain windows too.
        """
        return window

    @abstractmethod
    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        """Embed a batch of mono float32 windows at ``sample_rate`` (or what :meth:`prepare_window` made of them).

        Windows may be shorter than ``window_s`` (a short clip or the last window of
        a long one); the backend pads them as its model expects. Returns an array of
        shape ``(len(windows), audio_dim)``.
        """

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """Embed a batch of texts; returns ``(len(texts), text_dim)``. Audio-only embedders leave it out."""
        raise NotImplementedError(f"{self.name} is audio-only (text_dim = {self.text_dim}): it embeds no text")

    def provenance(self) -> dict[str, Any]:
        """What the store records about this embedder (checkpoint, versions, options)."""
        return {}

    # ------------------------------------------------------------------ frames (optional)
    @classmethod
    def gives_frames(cls) -> bool:
        """Whether this embedder can give frame tokens (``embed --frames``)."""
        return cls.frame_dim > 0

    def frame_count(self, n_samples: int) -> int:
        """Tokens :meth:`embed_frames` gives for a window of ``n_samples`` (at ``sample_rate``).

        Called before :meth:`load` (the store is laid out from the audio headers), so it
        must not need the weights. An upper bound is allowed: the store records the
        actual count. The default: one token per ``1 / frame_rate`` seconds begun.
        """
        return max(1, math.ceil(n_samples * self.frame_rate / self.sample_rate))

    def embed_frames(self, windows: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The window vectors (exactly as :meth:`embed_audio` gives them) and each window's frame tokens.

        Returns ``(vectors, tokens)``: ``vectors`` of shape ``(len(windows), audio_dim)`` and,
        per window, an array of shape ``(k, frame_dim)`` with ``1 <= k <= frame_count(len(window))``,
        token ``j`` starting ``j / frame_rate`` seconds into its window.
        """
        raise NotImplementedError(f"the {self.name} embedder gives no frame tokens")

    def frame_provenance(self) -> dict[str, Any]:
        """What the store records about the frame tokens (part of their identity)."""
        return {"frame_rate": float(self.frame_rate), "frames": self.frame_description}
