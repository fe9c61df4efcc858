"""``spectral``: a deterministic, weight-free embedder for tests and the demo.

Audio: log-mel band energies (64 bands, 25 ms frames at 16 kHz), summarised by their
mean and standard deviation over the window's frames (128 numbers). Text: hashed word
uni- and bi-grams (scikit-learn's ``HashingVectorizer``, 128 buckets, L2-normalised).

Frame tokens (``embed --frames``): the same log-mel frames pooled to a fixed rate, the
mean and standard deviation of every 20 frames (0.2 s, 5 tokens per second; 128
numbers), so that frame heads run without weights in the demo and the tests.

It needs no download and runs anywhere in milliseconds, which makes it the embedder of
the test suite and of ``make demo``. It is **not** a quality model: use ``clap`` or
``m2d`` for real predictions.

>>> import numpy as np
>>> e = SpectralEmbedder()
>>> e.embed_audio([np.zeros(16000, dtype=np.float32)]).shape, e.embed_text(["a calm piano"]).shape
((1, 128), (1, 128))
>>> vectors, tokens = e.embed_frames([np.zeros(16000, dtype=np.float32)])
>>> tokens[0].shape, e.frame_count(16000)
((5, 128), 5)
"""

from __future__ import annotations

import math

from functools import cached_property

import numpy as np
from scipy.signal import stft
from sklearn.feature_extraction.text import HashingVectorizer

from clapmos.embed.backends.base import Embedder
from clapmos.embed.backends.registry import register

N_FFT = 400
HOP = 160
N_MELS = 64
FRAMES_PER_TOKEN = 20  # 20 hops of 10 ms: one frame token per 0.2 s


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular filters on the HTK mel scale, shape ``(n_mels, n_fft // 2 + 1)``."""
    mel = lambda hz: 2595.0 * np.log10(1.0 + hz / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(mel(0.0), mel(sample_rate / 2), n_mels + 2))
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    rising = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    falling = (edges[2:, None] - freqs[None, :]) / (edges[2:, None] - edges[1:-1, None])
    return np.maximum(0.0, np.minimum(rising, falling))


@register
class SpectralEmbedder(Embedder):
    name = "spectral"
    sample_rate = 16000
    audio_dim = 2 * N_MELS
    text_dim = 128
    window_s = 10.0
    hop_s = 10.0
    normalize = False
    description = "log-mel statistics + hashed words; offline test/demo embedder, not a quality model"
    accepted_options = ()
    frame_dim = 2 * N_MELS
    frame_rate = 16000 / HOP / FRAMES_PER_TOKEN
    frame_description = f"log-mel {N_MELS} bands, mean+std of every {FRAMES_PER_TOKEN} frames (hop {HOP})"

    @cached_property
    def _filters(self) -> np.ndarray:
        return mel_filterbank(self.sample_rate, N_FFT, N_MELS)

    @cached_property
    def _vectorizer(self) -> HashingVectorizer:
        return HashingVectorizer(n_features=self.text_dim, ngram_range=(1, 2), alternate_sign=False, norm="l2")

    def embed_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        return np.stack([_statistics(self._logmel(w)) for w in windows]).astype(np.float32)

    def embed_frames(self, windows: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        logmels = [self._logmel(w) for w in windows]
        vectors = np.stack([_statistics(m) for m in logmels]).astype(np.float32)
        return vectors, [_token_statistics(m) for m in logmels]

    def frame_count(self, n_samples: int) -> int:
        """One token per 20 STFT frames begun (a window shorter than one FFT is padded to one frame)."""
        frames = 1 + (max(n_samples, N_FFT) - N_FFT) // HOP
        return math.ceil(frames / FRAMES_PER_TOKEN)

    def _logmel(self, window: np.ndarray) -> np.ndarray:
        """Log-mel energies, ``(N_MELS, frames)``."""
        padded = window if len(window) >= N_FFT else np.pad(window, (0, N_FFT - len(window)))
        _, _, spec = stft(padded, nperseg=N_FFT, noverlap=N_FFT - HOP, boundary=None, padded=False)
        return np.log(self._filters @ (np.abs(spec) ** 2) + 1e-8)

    def embed_text(self, texts: list[str]) -> np.ndarray:
        return self._vectorizer.transform(texts).toarray().astype(np.float32)

    def provenance(self) -> dict:
        return {"features": f"log-mel {N_MELS} bands mean+std (n_fft {N_FFT}, hop {HOP}); hashed word 1-2 grams"}


def _statistics(logmel: np.ndarray) -> np.ndarray:
    """Mean and standard deviation of every band over the frames given."""
    return np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)])


def _token_statistics(logmel: np.ndarray) -> np.ndarray:
    """:func:`_statistics` of every group of :data:`FRAMES_PER_TOKEN` frames (the last group may be shorter), ``(tokens, 128)``."""
    whole = logmel.shape[1] // FRAMES_PER_TOKEN * FRAMES_PER_TOKEN
    groups = logmel[:, :whole].reshape(N_MELS, -1, FRAMES_PER_TOKEN)
    mean = groups.mean(axis=2)
    spread = np.sqrt(np.maximum(np.einsum("bgf,bgf->bg", groups, groups) / FRAMES_PER_TOKEN - mean**2, 0.0))  # float64: no cancellation
    tokens = np.concatenate([mean, spread]).T
    if whole < logmel.shape[1]:
        tokens = np.vstack([tokens, _statistics(logmel[:, whole:])])
    return tokens.astype(np.float32)
