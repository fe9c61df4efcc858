"""Before embedding with ``--frames``: how many tokens every clip will have, read from the audio headers.

The store lays the frame tokens out before any audio is decoded (see
:mod:`clapmos.embed.store.frame_store`), so the token count of every clip comes from its file's
header: its length in samples, resampled to the model's rate, cut into windows, each
window giving :meth:`Embedder.frame_count` tokens. Both engines (serial and Dask) call
:func:`prepare_frame_layout` in the coordinating process; the model need not be loaded.

>>> from clapmos.embed.backends import create_embedder
>>> clip_tokens(create_embedder("spectral"), 25 * 16000, window_s=10.0, hop_s=10.0)
125
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile as sf

from clapmos.embed.audio import check_audio_files, resampled_length, segment_frames, window_lengths
from clapmos.embed.backends import Embedder, available_embedders
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore


def require_frames(embedder: type[Embedder] | Embedder) -> None:
    """Refuse ``--frames`` for an embedder that gives no frame tokens, naming those that do."""
    if not embedder.gives_frames():
        able = [name for name, cls in available_embedders().items() if cls.gives_frames()]
        raise ClapmosError(
            f"--frames: the {embedder.name} embedder gives no frame tokens; embedders that do: {', '.join(able)}. "
            "Leave out --frames to store its clip vectors only."
        )


def clip_tokens(model: Embedder, n_samples: int, window_s: float, hop_s: float) -> int:
    """Tokens of a clip of ``n_samples`` samples at the model's rate: the sum over its windows."""
    return sum(model.frame_count(n) for n in window_lengths(n_samples, model.sample_rate, window_s, hop_s))


def clip_token_counts(
    model: Embedder, paths: list[str], window_s: float, hop_s: float, workers: int = 4, segments: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Token count of every file (or of its segment, ``(start_s, end_s)`` with NaN for an open end), from its header."""
    check_audio_files(paths, workers=workers)

    def tokens(row: int) -> int:
        info = sf.info(paths[row])
        n = info.frames
        if segments is not None:  # as load_audio reads a segment
            first, last = segment_frames(*(float(bound[row]) for bound in segments), info.samplerate, n)
            n = max(0, last - first)
        return clip_tokens(model, resampled_length(n, info.samplerate, model.sample_rate), window_s, hop_s)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        return np.fromiter(pool.map(tokens, range(len(paths))), dtype=np.int64, count=len(paths))


def prepare_frame_layout(store: FeatureStore, key: str, model: Embedder, window_s: float, hop_s: float, dtype: str = "float16", workers: int = 4) -> None:
    """Lay out (or check) the frame tokens of ``model`` in ``features/<key>`` for all the store's clips."""
    require_frames(model)
    paths = store.items()["path"].tolist()
    capacities = clip_token_counts(model, paths, window_s, hop_s, workers=max(4, workers), segments=store.segments())
    if (capacities < 1).any():
        bad = [paths[i] for i in np.flatnonzero(capacities < 1)]
        raise ClapmosError(f"{len(bad)} file(s) would give no frame token (too short): {', '.join(bad[:5])}. Remove them.")
    store.prepare_frames(key, model.frame_dim, capacities, model.frame_provenance(), dtype=dtype)
