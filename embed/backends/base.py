"""The contract every embedding backend fulfils.

An embedder turns windows of mono audio at its own ``sample_rate`` into one vector
per window, and texts into one vector per text. Everything else (reading files,
resampling, cutting windows, batching across clips, pooling windows into a clip
vector, writing the store) is done once, by :mod:`embed.runner`, for all backends.

To add a backend, write one module in ``embed/backends/`` with a subclass of
:class:`Embedder` decorated with :func:`embed.backends.registry.register` and import
it in ``embed/backends/__init__.py``; see the README section "Adding an embedder".
"""

from __future__ import annotations

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
    """

    name: ClassVar[str]
    sample_rate: ClassVar[int]
    audio_dim: ClassVar[int]
    text_dim: ClassVar[int]
    window_s: ClassVar[float] = 10.0
    hop_s: ClassVar[float] = 10.0
    normalize: ClassVar[bool] = False
    description: ClassVar[str] = ""

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
