"""Audio I/O: read any file soundfile knows, down-mix to mono, resample with soxr, cut windows.

Files are decoded and resampled block by block (:func:`stream_audio`, soxr's ``ResampleStream``),
and embedding cuts its windows as the blocks arrive (:func:`stream_windows`), so a full-length
song is never held whole at its own rate and channels.

>>> import numpy as np
>>> x = np.zeros(25 * 16000, dtype=np.float32)
>>> [len(w) / 16000 for w in cut_windows(x, 16000, window_s=10.0, hop_s=10.0)]
[10.0, 10.0, 5.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from clapmos.embed.errors import ClapmosError, listing

FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})  # soundfile subtypes that can hold NaN and inf


#: frames decoded per block when a file is streamed (1.5 s at 44.1 kHz; 0.5 MB as stereo float32)
BLOCK_FRAMES = 65_536
#: formats decoded in one read: libsndfile 1.2.2 (soundfile 0.14) returns MP3 read in parts with stretches of
#: zeros after the first few thousand frames (full counts reported), while one read of the whole file is right
#: (``tests/test_long_audio.py``); their down-mix, resampling and windows still go block by block
WHOLE_READ_FORMATS = frozenset({"MP3"})


def load_audio(path: str | Path, sample_rate: int, start_s: float | None = None, end_s: float | None = None) -> np.ndarray:
    """Read ``path`` as mono float32 at ``sample_rate`` (soxr, its default high quality).

    ``start_s``/``end_s`` read only that segment of the file (seconds; ``None``: from its
    start, to its end). Raises :class:`ClapmosError` naming the file when it cannot be
    decoded, is empty or holds samples that are not finite (NaN or inf). The file is decoded
    and resampled block by block (:func:`stream_audio`); only the result is held whole.
    """
    return np.concatenate(list(stream_audio(path, sample_rate, start_s, end_s)))


def stream_audio(
    path: str | Path, sample_rate: int, start_s: float | None = None, end_s: float | None = None, block_frames: int = BLOCK_FRAMES,
) -> Iterator[np.ndarray]:
    """``path`` (or its segment) as mono float32 blocks at ``sample_rate``, decoded ``block_frames`` frames at a time.

    Each block is read with ``SoundFile.read(frames)`` after one ``seek`` (an MP3 in one read, see
    :data:`WHOLE_READ_FORMATS`), down-mixed and fed to
    soxr's ``ResampleStream`` (HQ, as ``soxr.resample``), which carries the filter state from block
    to block and is flushed at the end: the blocks joined are the numbers ``soxr.resample`` gives
    for the whole down-mixed file (``tests/test_long_audio.py``), with one block of the file in memory.
    Errors are those of :func:`load_audio`, raised when met; a file with samples that are not
    finite is read to its end first, so that the message counts them all.

    >>> import tempfile, soundfile as sf
    >>> path = tempfile.mkdtemp() + "/tone.wav"
    >>> sf.write(path, np.zeros((44_100, 2), dtype=np.float32), 44_100)
    >>> blocks = list(stream_audio(path, 16_000, block_frames=20_000))  # soxr's delay: the last block is the flushed tail
    >>> len(blocks), sum(len(b) for b in blocks)
    (4, 16000)
    """
    try:
        audio = sf.SoundFile(str(path))
    except Exception as error:  # libsndfile reports format problems as several types
        raise ClapmosError(f"{path}: cannot read audio ({error}). Replace or remove this file.") from None
    with audio:
        rate = audio.samplerate
        first, last = segment_frames(start_s, end_s, rate, audio.frames)
        to_end = end_s is None or math.isnan(end_s)  # to the end of what decodes, whatever the header says
        remaining = None if to_end else max(0, last - first)
        resampler = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32") if rate != sample_rate else None
        total = bad = 0
        for data in _decoded_blocks(audio, path, first, remaining, block_frames):
            total += data.shape[0]
            finite = np.isfinite(data)
            if bad or not finite.all():  # count the rest, resample nothing more
                bad += int((~finite).any(axis=1).sum())
                continue
            mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
            block = mono if resampler is None else resampler.resample_chunk(mono)
            if len(block):
                yield np.ascontiguousarray(block, dtype=np.float32)
        if total == 0:
            if start_s is not None or end_s is not None:
                raise ClapmosError(f"{path}: the segment {start_s}–{end_s} s holds no audio samples. Give a longer segment.")
            raise ClapmosError(f"{path}: the file holds no audio samples. Replace or remove this file.")
        if bad:
            raise ClapmosError(f"{path}: {bad} of {total} samples are not finite (NaN or inf). Replace or remove this file.")
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if len(tail):
                yield np.ascontiguousarray(tail, dtype=np.float32)


def _decoded_blocks(audio: sf.SoundFile, path, first: int, remaining: int | None, block_frames: int) -> Iterator[np.ndarray]:
    """The ``(frames, channels)`` float32 blocks of ``audio`` from frame ``first`` (``remaining`` frames, or to the end).

    Formats of :data:`WHOLE_READ_FORMATS` are decoded in one read, down-mixed (one channel: the same
    means, so the same numbers) and then handed out block by block.
    """
    whole = audio.format in WHOLE_READ_FORMATS
    try:
        if remaining is None or remaining > 0:  # an empty segment (past the end) is named by the caller
            audio.seek(first)
        while remaining is None or remaining > 0:
            size = block_frames if remaining is None else min(block_frames, remaining)
            data = audio.read((-1 if remaining is None else remaining) if whole else size, dtype="float32", always_2d=True)
            if data.shape[0] == 0:
                return
            if whole:  # down-mixed at once, so that only the mono signal is held while it is handed out
                mono = data.mean(axis=1, keepdims=True) if data.shape[1] > 1 else data
                del data
                yield from (mono[start : start + block_frames] for start in range(0, mono.shape[0], block_frames))
                return
            remaining = None if remaining is None else remaining - data.shape[0]
            yield data
    except ClapmosError:
        raise
    except Exception as error:  # libsndfile reports format problems as several types
        raise ClapmosError(f"{path}: cannot read audio ({error}). Replace or remove this file.") from None


def stream_windows(
    path: str | Path, sample_rate: int, window_s: float, hop_s: float, start_s: float | None = None, end_s: float | None = None,
    block_frames: int = BLOCK_FRAMES,
) -> Iterator[np.ndarray]:
    """The windows :func:`cut_windows` cuts from :func:`load_audio`'s result, cut as the blocks of
    :func:`stream_audio` arrive: the whole file is never held, only the windows (each its own copy).

    >>> import tempfile, soundfile as sf
    >>> path = tempfile.mkdtemp() + "/tone.wav"
    >>> sf.write(path, np.zeros(25 * 16_000, dtype=np.float32), 16_000)
    >>> [len(w) / 16_000 for w in stream_windows(path, 16_000, window_s=10.0, hop_s=10.0)]
    [10.0, 10.0, 5.0]
    """
    window = max(1, round(window_s * sample_rate))
    hop = max(1, round(hop_s * sample_rate))
    buffer, offset, start = np.zeros(0, dtype=np.float32), 0, 0  # buffer holds samples offset, offset + 1, ...
    for block in stream_audio(path, sample_rate, start_s, end_s, block_frames):
        buffer = np.concatenate([buffer, block])
        while start + window < offset + len(buffer):  # a full window with audio after it: not the last one
            yield buffer[start - offset : start - offset + window].copy()
            start += hop
        drop = min(start - offset, len(buffer))
        buffer, offset = buffer[drop:], offset + drop
    end = offset + len(buffer)
    while start < end:  # the last windows: cut_windows stops at the first that reaches the end
        yield buffer[start - offset : start - offset + window].copy()
        if start + window >= end:
            break
        start += hop


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
            problem = non_finite_in_file(path)
            if problem:
                return f"{path}: {problem}"
        return None

    with ThreadPoolExecutor(max(1, workers)) as pool:
        problems = [p for p in pool.map(problem, paths) if p]
    if problems:
        raise ClapmosError(
            f"{len(problems)} audio file(s) cannot be used:\n{listing(problems)}\n"
            "Replace them, or remove them and their rows from the corpus lists (then add --rebuild: the "
            "store's item list changes), and run the command again; features already written are kept."
        )


def non_finite_in_file(path: str | Path) -> str | None:
    """:func:`non_finite`'s phrase for a (floating-point) file, read block by block (never held whole); None if all are finite.

    >>> import tempfile, soundfile as sf
    >>> path = tempfile.mkdtemp() + "/nan.wav"
    >>> sf.write(path, np.array([0.0, np.nan, 0.5], dtype=np.float32), 8000, subtype="FLOAT")
    >>> non_finite_in_file(path)
    '1 of 3 samples are not finite (NaN or inf)'
    """
    bad = total = 0
    for block in sf.blocks(str(path), BLOCK_FRAMES, dtype="float32", always_2d=True):  # float files only: not MP3
        bad += int((~np.isfinite(block)).any(axis=1).sum())
        total += len(block)
    return f"{bad} of {total} samples are not finite (NaN or inf)" if bad else None


def non_finite(data: np.ndarray) -> str:
    """How many samples (frames) of ``data`` are not finite, as a phrase for a message."""
    bad = ~np.isfinite(data)
    return f"{int(bad.any(axis=1).sum())} of {len(data)} samples are not finite (NaN or inf)"

