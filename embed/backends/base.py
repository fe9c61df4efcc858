"""The contract every embedding backend fulfils.

An embedder turns windows of mono audio at its own ``sample_rate`` into one vector
per window, and texts into one vector per text. Everything else (reading files,
resampling, cutting windows, batching across clips, pooling windows into a clip
vector, writing the store) is done once, by :mod:`embed.runner`, for all backends.

To add a backend, write one module in ``embed/backends/`` with a subclass of
:class:`Embedder` decorated with :func:`embed.backends.registry.register` and import
it in ``embed/backends/__init__.py``; see the README section "Adding an embedder".
A class outside clapmos is a plugin (``--embedder file.py:Class`` or the
``clapmos.embedders`` entry-point group, see :mod:`embed.backends.plugins`).

An **audio-only** embedder declares ``text_dim = 0`` and need not implement
:meth:`Embedder.embed_text`: the runner embeds no text for it and the store keeps no
``text`` array. Attributes that only the loaded model knows (the dimension of an
``hf-audio`` encoder, Whisper's 30 s window) may be set on the instance by
:meth:`Embedder.load`; the runner reads them after loading.

>>> class Silence(Embedder):
...     name, sample_rate, audio_dim, text_dim = "silence", 16000, 2, 0
...     def embed_audio(self, windows):
...         return np.zeros((len(windows), 2), dtype=np.float32)
>>> Silence().embed_audio([np.zeros(10)]).shape
(1, 2)
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from embed.errors import ClapmosError


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

    @abstractmethod
    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        """Embed a batch of mono float32 windows at ``sample_rate``.

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
