"""The contract every embedding backend fulfils.

An embedder turns windows of mono audio at its own ``sample_rate`` into one vector
per window, and texts into one vector per text. Everything else (reading files,
resampling, cutting windows, batching across clips, pooling windows into a clip
vector, writing the store) is done once, by :mod:`embed.runner`, for all backends.

To add a backend, write one module in ``embed/backends/`` with a subclass of
:class:`Embedder` decorated with :func:`embed.backends.registry.register` and import
it in ``embed/backends/__init__.py``; see the README section "Adding an embedder".

An embedder *can give frames* (``embed --frames``) when it declares ``frame_dim`` and
``frame_rate`` and implements :meth:`Embedder.embed_frames`: the window vectors and,
per window, its sequence of frame tokens, from one forward pass. The runner joins a
clip's windows' tokens into one sequence and the store lays them out before any
audio is read, from :meth:`Embedder.frame_count`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np


class Embedder(ABC):
    """Base class of audio/text embedders.

    Class attributes describe the model; instances hold the loaded weights.

    Attributes
    ----------
    name : str
        Registry name, also the group name under ``features/`` in the store.
    sample_rate : int
        Rate (Hz) the audio windows must have; the runner resamples to it.
    audio_dim, text_dim : int
        Sizes of the audio and text vectors.
    window_s, hop_s : float
        Default window and hop (seconds) for cutting clips.
    normalize : bool
        Whether the pooled clip vector is re-normalised to unit length.
    frame_dim : int
        Width of a frame token; 0 (the default) for an embedder that gives no frames.
    frame_rate : float
        Frame tokens per second of audio within a window.
    frame_description : str
        What a token is (recorded in the store; a change makes stored frames stale).
    """

    name: ClassVar[str]
    sample_rate: ClassVar[int]
    audio_dim: ClassVar[int]
    text_dim: ClassVar[int]
    window_s: ClassVar[float] = 10.0
    hop_s: ClassVar[float] = 10.0
    normalize: ClassVar[bool] = False
    description: ClassVar[str] = ""
    frame_dim: ClassVar[int] = 0
    frame_rate: ClassVar[float] = 0.0
    frame_description: ClassVar[str] = ""

    def __init__(self, device: str = "auto", batch_size: int = 8, **options: Any) -> None:
        self.device = device
        self.batch_size = batch_size
        self.options = options

    def load(self) -> None:
        """Load weights (and fail early on a bad checkpoint). Called once, before any audio is read."""

    @abstractmethod
    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        """Embed a batch of mono float32 windows at ``sample_rate``.

        Windows may be shorter than ``window_s`` (a short clip or the last window of
        a long one); the backend pads them as its model expects. Returns an array of
        shape ``(len(windows), audio_dim)``.
        """

    @abstractmethod
    def embed_text(self, texts: list[str]) -> np.ndarray:
        """Embed a batch of texts; returns ``(len(texts), text_dim)``."""

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
