"""A stand-in for a model that dominates the cost: ``spectral``'s numbers, plus a fixed wait per window.

The wait stands for a CLAP forward pass on an accelerator (the process waits on the device); Dask
workers import this module by name (the benchmark folder is on their ``sys.path``).
"""

from __future__ import annotations

import time

from clapmos.embed.backends.spectral import SpectralEmbedder


class SlowSpectral(SpectralEmbedder):
    """``spectral`` whose every window costs ``seconds_per_window`` more."""

    def __init__(self, seconds_per_window: float = 0.05, **options) -> None:
        super().__init__(**options)
        self.seconds_per_window = seconds_per_window

    def embed_audio(self, windows):
        time.sleep(self.seconds_per_window * len(windows))
        return super().embed_audio(windows)
