"""Audio I/O: decoding, down-mix, resampling with soxr, window cutting, bad files named."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr

from clapmos.embed.audio import check_audio_files, cut_windows, load_audio
from clapmos.embed.errors import ClapmosError


def test_stereo_is_averaged_to_mono_and_resampled_with_soxr(tmp_path):
    rng = np.random.default_rng(0)
    stereo = rng.uniform(-0.5, 0.5, size=(16000, 2)).astype(np.float32)
    sf.write(tmp_path / "s.wav", stereo, 16000, subtype="FLOAT")
    out = load_audio(tmp_path / "s.wav", 48000)
    expected = soxr.resample(stereo.mean(axis=1), 16000, 48000)
    assert out.dtype == np.float32 and out.shape == (48000,)
    np.testing.assert_array_equal(out, expected.astype(np.float32))


def test_audio_at_the_target_rate_is_returned_unchanged(tmp_path):
    x = np.linspace(-0.5, 0.5, 800, dtype=np.float32)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(tmp_path / "a.wav", 16000), x)


@pytest.mark.parametrize(
    ("seconds", "window", "hop", "expected"),
    [
        (25.0, 10.0, 10.0, [10.0, 10.0, 5.0]),
        (10.0, 10.0, 10.0, [10.0]),
        (3.0, 10.0, 10.0, [3.0]),
        (12.0, 10.0, 5.0, [10.0, 7.0]),
        (20.0, 10.0, 5.0, [10.0, 10.0, 10.0]),
    ],
)
def test_windows_cover_the_clip_and_keep_the_last_partial_one(seconds, window, hop, expected):
    x = np.arange(int(seconds * 100), dtype=np.float32)
    windows = cut_windows(x, 100, window, hop)
    assert [len(w) / 100 for w in windows] == expected[: len(windows)] and len(windows) >= 1
    assert windows[0][0] == 0 and windows[-1][-1] == x[-1]
    for i, w in enumerate(windows):
        np.testing.assert_array_equal(w, x[int(i * hop * 100) : int(i * hop * 100) + len(w)])


def test_unreadable_and_empty_files_are_named(tmp_path):
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(ClapmosError, match="junk.wav: cannot read audio"):
        load_audio(tmp_path / "junk.wav", 16000)
    with pytest.raises(ClapmosError, match="empty.wav: the file holds no audio"):
        load_audio(tmp_path / "empty.wav", 16000)


def test_check_lists_every_bad_file_at_once(tmp_path):
    sf.write(tmp_path / "good.wav", np.zeros(160, dtype=np.float32), 16000)
    (tmp_path / "junk.wav").write_bytes(b"xx")
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    paths = [str(tmp_path / n) for n in ["good.wav", "junk.wav", "empty.wav", "gone.wav"]]
    with pytest.raises(ClapmosError) as info:
        check_audio_files(paths)
    message = str(info.value)
    assert message.startswith("3 audio file(s)")
    assert "junk.wav: unreadable" in message and "empty.wav: empty" in message and "gone.wav: missing" in message
    assert "good.wav" not in message
