"""Full-length songs embed with bounded memory: windows are embedded batch by batch as clips are
read (a block of songs is never held whole), and read-ahead is bounded in windows; a 44.1 kHz
stereo MP3 decodes through soundfile (libsndfile ≥ 1.1)."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import soundfile as sf

from clapmos.embed.audio import cut_windows, load_audio
from clapmos.embed.engines.runner import BlockEncoder, read_ahead
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
