"""Full-length songs embed with bounded memory: each file is decoded and resampled block by block
(soxr's ResampleStream) and cut into windows as the blocks arrive, windows are embedded batch by
batch as clips are read (a block of songs is never held whole), and read-ahead is bounded in
windows; a 44.1 kHz stereo MP3 decodes through soundfile (libsndfile ≥ 1.1)."""

from __future__ import annotations

import tracemalloc
from concurrent.futures import Future

import numpy as np
import pytest
import soundfile as sf

from clapmos.embed.audio import check_audio_files, cut_windows, load_audio, stream_audio, stream_windows
from clapmos.embed.engines.runner import BlockEncoder, read_ahead
from clapmos.embed.errors import ClapmosError
from tests.benchmark_layouts import write_mp3


class CountingModel:
    """A stand-in embedder: each window's vector is its mean and length; records what it was given."""

    batch_size = 3
    normalize = False
    audio_dim = 2
    name = "counting"

    def __init__(self, drawn: list[int]) -> None:
        self.drawn, self.calls = drawn, []

    def embed_audio(self, windows):
        self.calls.append((len(windows), self.drawn[0]))
        return np.array([[w.mean(), len(w)] for w in windows], dtype=np.float32)


def test_pool_clips_embeds_batch_by_batch_while_reading_and_pools_exactly():
    rng = np.random.default_rng(0)
    songs = [rng.normal(size=n).astype(np.float32) for n in (250, 40, 1000, 95)]
    drawn = [0]

    def clips():
        for song in songs:
            drawn[0] += 1
            yield cut_windows(song, 10, window_s=10.0, hop_s=10.0)  # windows of 100 samples

    model = CountingModel(drawn)
    pooled, _ = BlockEncoder(model, 10.0, 10.0, workers=1).pool_clips(clips())
    expected = [np.mean([[w.mean(), len(w)] for w in cut_windows(s, 10, 10.0, 10.0)], axis=0) for s in songs]
    np.testing.assert_allclose(pooled, np.array(expected), rtol=1e-6)
    flat = [len(cut_windows(s, 10, 10.0, 10.0)) for s in songs]  # 3, 1, 10, 1 windows
    assert [size for size, _ in model.calls] == [3, 3, 3, 3, 3]
    assert [clips_read for _, clips_read in model.calls] == [1, 3, 3, 3, 4]  # the first batch before the second song was read
    assert sum(flat) == 15


class InlinePool:
    """A pool that runs each task at once (deterministic read-ahead)."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn, item):
        self.submitted += 1
        future = Future()
        future.set_result(fn(item))
        return future


def test_read_ahead_is_bounded_in_windows():
    pool = InlinePool()
    ahead = []
    for k, windows in enumerate(read_ahead(pool, lambda n: [0] * n, [24] * 6, depth=16, budget=32, cost=len)):
        ahead.append(pool.submitted - k - 1)
        assert len(windows) == 24
    assert max(ahead) <= 2  # 24-window songs: at most two waiting (≥ 32 windows stops the reading)
    pool = InlinePool()
    assert len(list(read_ahead(pool, lambda n: [0] * n, [1] * 40, depth=16, budget=32, cost=len))) == 40
    assert pool.submitted == 40


def test_a_stereo_44k_mp3_is_read_resampled_and_cut(tmp_path):
    path = write_mp3(tmp_path / "song.mp3", seconds=12.0, sr=44100, channels=2)
    info = sf.info(path)
    assert (info.format, info.samplerate, info.channels) == ("MP3", 44100, 2)
    audio = load_audio(path, 48000)
    assert abs(len(audio) / 48000 - 12.0) < 0.1  # MP3 encoder padding aside
    assert [len(w) for w in cut_windows(audio, 48000, 10.0, 10.0)][0] == 480000


# --------------------------------------------------------------------------- decoding and resampling block by block
def whole_file(path, sample_rate, start_s=None, end_s=None):
    """The reference: decode the whole file (or its segment), down-mix, resample in one call of soxr.resample."""
    import soxr

    data, rate = sf.read(path, dtype="float32", always_2d=True)
    first = 0 if start_s is None else round(start_s * rate)
    last = len(data) if end_s is None else min(len(data), round(end_s * rate))
    mono = data[first:last].mean(axis=1)
    return mono if rate == sample_rate else soxr.resample(mono, rate, sample_rate)


def write_noise_wav(path, seconds=3.0, sr=44100, channels=2, subtype="FLOAT"):
    rng = np.random.default_rng(1)
    sf.write(path, (0.2 * rng.standard_normal((int(seconds * sr), channels))).astype(np.float32), sr, subtype=subtype)
    return path


@pytest.mark.parametrize("block_frames", [1_000, 4_096, 65_536])
@pytest.mark.parametrize("sample_rate", [48_000, 16_000, 44_100])
@pytest.mark.parametrize("segment", [(None, None), (0.25, 2.5), (1.0, None)])
def test_streamed_audio_equals_the_whole_file_resampled_at_once(tmp_path, block_frames, sample_rate, segment):
    # tolerance 1e-6 (float32 audio of amplitude ~1); soxr's streaming state makes it bit-identical in practice
    path = write_noise_wav(tmp_path / "noise.wav")
    expected = whole_file(path, sample_rate, *segment)
    streamed = np.concatenate(list(stream_audio(path, sample_rate, *segment, block_frames=block_frames)))
    assert streamed.dtype == np.float32 and len(streamed) == len(expected)
    np.testing.assert_allclose(streamed, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(load_audio(path, sample_rate, *segment), streamed)


def test_a_stereo_mp3_streams_to_the_same_numbers_as_its_whole_decode(tmp_path):
    path = write_mp3(tmp_path / "song.mp3", seconds=6.0, sr=44100, channels=2)
    streamed = np.concatenate(list(stream_audio(path, 48_000, block_frames=10_000)))
    expected = whole_file(path, 48_000)
    assert len(streamed) == len(expected)
    np.testing.assert_allclose(streamed, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("window_s, hop_s", [(1.0, 1.0), (1.0, 0.5), (0.7, 1.3), (5.0, 5.0), (0.5, 0.25)])
@pytest.mark.parametrize("seconds", [3.0, 0.3, 2.0])
def test_streamed_windows_are_the_windows_cut_from_the_whole_clip(tmp_path, window_s, hop_s, seconds):
    path = write_noise_wav(tmp_path / "noise.wav", seconds=seconds)
    expected = cut_windows(load_audio(path, 16_000), 16_000, window_s, hop_s)
    for block_frames in (777, 16_000, 1 << 20):
        windows = list(stream_windows(path, 16_000, window_s, hop_s, block_frames=block_frames))
        assert [len(w) for w in windows] == [len(w) for w in expected]
        for got, want in zip(windows, expected):
            np.testing.assert_array_equal(got, want)


def test_streaming_holds_one_block_not_the_file(tmp_path):
    path = write_noise_wav(tmp_path / "long.wav", seconds=30.0)  # 10.6 MB as stereo float32 at 44.1 kHz
    tracemalloc.start()
    try:
        n = sum(len(block) for block in stream_audio(path, 48_000))
        _, streamed_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        whole = whole_file(path, 48_000)
        _, whole_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == len(whole)
    assert streamed_peak < 3e6 and whole_peak > 10e6  # a few blocks of 0.5 MB, against the decoded file and its copies


def test_non_finite_samples_in_several_blocks_are_all_counted_and_bad_segments_named(tmp_path):
    data = np.zeros((50_000, 2), dtype=np.float32)
    data[10, 0] = np.nan
    data[30_000, 1] = np.inf
    data[49_999] = np.nan
    sf.write(tmp_path / "bad.wav", data, 16_000, subtype="FLOAT")
    with pytest.raises(ClapmosError, match=r"bad.wav: 3 of 50000 samples are not finite"):
        list(stream_audio(tmp_path / "bad.wav", 16_000, block_frames=4_096))
    with pytest.raises(ClapmosError, match="3 of 50000 samples are not finite"):
        check_audio_files([str(tmp_path / "bad.wav")])
    write_noise_wav(tmp_path / "ok.wav", seconds=1.0)
    with pytest.raises(ClapmosError, match=r"the segment 2.0–3.0 s holds no audio samples"):
        list(stream_windows(tmp_path / "ok.wav", 16_000, 1.0, 1.0, start_s=2.0, end_s=3.0))
