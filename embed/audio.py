"""Audio I/O: read any file soundfile knows, down-mix to mono, resample with soxr, cut windows.

>>> import numpy as np
>>> x = np.zeros(25 * 16000, dtype=np.float32)
>>> [len(w) / 16000 for w in cut_windows(x, 16000, window_s=10.0, hop_s=10.0)]
[10.0, 10.0, 5.0]
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from clapmos.embed.errors import ClapmosError, listing

FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})  # soundfile subtypes that can hold NaN and inf


def load_audio(path: str | Path, sample_rate: int, start_s: float | None = None, end_s: float | None = None) -> np.ndarray:
    """Read ``path`` as mono float32 at ``sample_rate`` (soxr, its default high quality).

    ``start_s``/``end_s`` read only that segment of the file (seconds; ``None``: from its
    start, to its end). Raises :class:`ClapmosError` naming the file when it cannot be
    decoded, is empty or holds samples that are not finite (NaN or inf).
    """
    try:
        with sf.SoundFile(str(path)) as audio:
            rate = audio.samplerate
            first, last = segment_frames(start_s, end_s, rate, audio.frames)
            audio.seek(first)
            to_end = end_s is None or math.isnan(end_s)  # to the end of what decodes, whatever the header says
            data = audio.read(-1 if to_end else max(0, last - first), dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile reports format problems as several types
        raise ClapmosError(f"{path}: cannot read audio ({error}). Replace or remove this file.") from None
    if data.shape[0] == 0:
        if start_s is not None or end_s is not None:
            raise ClapmosError(f"{path}: the segment {start_s}–{end_s} s holds no audio samples. Give a longer segment.")
        raise ClapmosError(f"{path}: the file holds no audio samples. Replace or remove this file.")
    if not np.isfinite(data).all():
        raise ClapmosError(f"{path}: {non_finite(data)}. Replace or remove this file.")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def segment_frames(start_s: float | None, end_s: float | None, rate: int, n_frames: int) -> tuple[int, int]:
    """The frames ``[first, last)`` of a file of ``n_frames`` at ``rate`` that a segment covers (``None`` or NaN:
    the file's start or end); ``last`` is clipped to the file, and ``last <= first`` is an empty segment.

    >>> segment_frames(0.5, None, 16000, 16000), segment_frames(None, 2.0, 16000, 16000)
    ((8000, 16000), (0, 16000))
    """
    first = 0 if start_s is None or math.isnan(start_s) else round(start_s * rate)
    last = n_frames if end_s is None or math.isnan(end_s) else min(n_frames, round(end_s * rate))
    return first, last


def cut_windows(audio: np.ndarray, sample_rate: int, window_s: float, hop_s: float) -> list[np.ndarray]:
    """Cut ``audio`` into windows of ``window_s`` seconds every ``hop_s`` seconds.

    The first window starts at 0; windows follow until one reaches the end of the clip,
    so the last one may be shorter (it is kept, never dropped). A clip shorter than one
    window gives one short window. Padding is left to the embedder.
    """
    window = max(1, round(window_s * sample_rate))
    hop = max(1, round(hop_s * sample_rate))
    windows = []
    for start in range(0, len(audio), hop):
        windows.append(audio[start : start + window])
        if start + window >= len(audio):
            break
    return windows


def window_lengths(n_samples: int, sample_rate: int, window_s: float, hop_s: float) -> list[int]:
    """Lengths of the windows :func:`cut_windows` cuts from ``n_samples`` samples, without the audio.

    >>> window_lengths(25 * 16000, 16000, window_s=10.0, hop_s=10.0)
    [160000, 160000, 80000]
    """
    window = max(1, round(window_s * sample_rate))
    hop = max(1, round(hop_s * sample_rate))
    lengths = []
    for start in range(0, n_samples, hop):
        lengths.append(min(window, n_samples - start))
        if start + window >= n_samples:
            break
    return lengths


def resampled_length(n_samples: int, rate: int, sample_rate: int) -> int:
    """Samples :func:`load_audio` gives for a file of ``n_samples`` at ``rate`` (soxr rounds to the nearest).

    >>> resampled_length(16000, 16000, 48000), resampled_length(22051, 22050, 16000)
    (48000, 16001)
    """
    return n_samples if rate == sample_rate else round(n_samples * sample_rate / rate)


def check_audio_files(paths: list[str], workers: int = 4) -> None:
    """Raise one error listing every missing, unreadable, empty or non-finite audio file.

    Headers are read for every file; the samples only of floating-point files (integer
    PCM cannot hold NaN or inf), to find the ones with samples that are not finite.
    """

    def problem(path: str) -> str | None:
        if not Path(path).is_file():
            return f"{path}: missing"
        try:
            info = sf.info(path)
        except Exception as error:
            return f"{path}: unreadable ({str(error).strip()})"
        if info.frames == 0:
            return f"{path}: empty (0 samples)"
        if info.subtype in FLOAT_SUBTYPES:
            data, _ = sf.read(path, dtype="float32", always_2d=True)
            if not np.isfinite(data).all():
                return f"{path}: {non_finite(data)}"
        return None

    with ThreadPoolExecutor(max(1, workers)) as pool:
        problems = [p for p in pool.map(problem, paths) if p]
    if problems:
        raise ClapmosError(
            f"{len(problems)} audio file(s) cannot be used:\n{listing(problems)}\n"
            "Replace them, or remove them and their rows from the corpus lists (then add --rebuild: the "
            "store's item list changes), and run the command again; features already written are kept."
        )


def non_finite(data: np.ndarray) -> str:
    """How many samples (frames) of ``data`` are not finite, as a phrase for a message."""
    bad = ~np.isfinite(data)
    return f"{int(bad.any(axis=1).sum())} of {len(data)} samples are not finite (NaN or inf)"

