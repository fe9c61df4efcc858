"""Synthetic tone sequences for the demo corpus: test signals with controlled flaws, not music.

A clip is a sequence of harmonic notes whose *register* (low/high), *tempo*
(slow/fast) and *timbre* (dark/bright) are chosen by the caller, degraded in
proportion to ``1 - quality`` by detuning, timing jitter, white noise, clicks
and hard clipping. A simple spectral model can hear all of it: register moves
the fundamental, timbre the spectral slope, tempo the onset rate, and the flaws
raise the noise floor.

>>> import numpy as np
>>> clip = render_clip("high", "fast", "bright", quality=0.9, seconds=2.0, rng=np.random.default_rng(0))
>>> clip.shape, clip.dtype, bool(np.abs(clip).max() <= np.float32(PEAK))
((32000,), dtype('float32'), True)
"""

from __future__ import annotations

import numpy as np

SR = 16000
PEAK = 0.8
TABLE_SIZE = 2048
MAX_PARTIAL_HZ = 6000.0
# pentatonic scale steps above the register's root (MIDI numbers)
SCALE = np.array([0, 2, 4, 7, 9, 12])
ROOT_MIDI = {"low": 45, "high": 72}  # A2 (110 Hz) and C5 (523 Hz)
NOTES_PER_SECOND = {"slow": 2.0, "fast": 7.0}
SPECTRAL_SLOPE = {"dark": 2.5, "bright": 0.5}  # partial k has amplitude k ** -slope


def midi_to_hz(midi: np.ndarray) -> np.ndarray:
    """Equal-tempered frequency of MIDI note numbers (69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def wavetable(register: str, timbre: str) -> np.ndarray:
    """One period of the note waveform: harmonics up to :data:`MAX_PARTIAL_HZ` for the register's top note."""
    top = float(midi_to_hz(ROOT_MIDI[register] + SCALE[-1] + 1))
    partials = np.arange(1, max(1, int(MAX_PARTIAL_HZ // top)) + 1)
    phase = np.arange(TABLE_SIZE) / TABLE_SIZE
    table = (partials[:, None] ** -SPECTRAL_SLOPE[timbre] * np.sin(2 * np.pi * partials[:, None] * phase)).sum(axis=0)
    return table / np.abs(table).max()


def render_clip(register: str, tempo: str, timbre: str, quality: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A mono float32 clip at :data:`SR` with peak :data:`PEAK`; ``quality`` in [0, 1], 1 = clean.

    The clean tones peak at 0.5. Flaws grow with ``d = 1 - quality``: notes
    detuned (standard deviation ``80 d`` cents), onsets jittered, white noise,
    overdrive clipped at 0.6, and about ``15 d`` full-scale clicks per second.
    """
    n = int(round(seconds * SR))
    d = float(np.clip(1.0 - quality, 0.0, 1.0))
    note_len = 1.0 / NOTES_PER_SECOND[tempo]
    n_notes = int(np.ceil(seconds / note_len)) + 1
    onsets = np.arange(n_notes) * note_len + rng.normal(0.0, 0.12 * d * note_len, n_notes)
    onsets = np.sort(np.clip(onsets, 0.0, None))
    onsets[0] = 0.0
    midi = ROOT_MIDI[register] + rng.choice(SCALE, n_notes) + rng.normal(0.0, 0.8 * d, n_notes)
    t = np.arange(n) / SR
    note = np.searchsorted(onsets, t, side="right") - 1
    since = t - onsets[note]
    envelope = np.minimum(1.0, since / 0.01) * np.exp(-since * 2.5 / note_len)
    phase = np.cumsum(midi_to_hz(midi)[note] / SR) % 1.0
    table = wavetable(register, timbre)
    signal = envelope * np.interp(phase * TABLE_SIZE, np.arange(TABLE_SIZE + 1), np.append(table, table[0]))
    signal *= 0.5 / np.abs(signal).max()
    signal += rng.normal(0.0, 0.005 + 0.2 * d**1.5, n)
    signal = np.clip(signal * (1.0 + 6.0 * d**2), -0.6, 0.6)
    clicks = rng.integers(0, n, rng.poisson(15.0 * d * seconds))
    signal[clicks] = rng.choice([-PEAK, PEAK], len(clicks))
    return signal.astype(np.float32)
