"""Full-length songs: embedding 4-minute 44.1 kHz stereo MP3s, time and peak memory, and the store size for SongEval.

Setup: one 240 s, 44.1 kHz stereo MP3 (a drifting tone with noise, written by libsndfile's MP3
encoder); a manifest lists it once ("1 song") or ``MANY`` times under different names (links
to it: "N songs"). Each measurement is ``cli.py embed --corpus manifest`` in a fresh process on
a fresh store (serial engine, 2 reader threads, default windows: 10 s, no overlap), with

* ``spectral`` (16 kHz log-mel statistics, 128-d tokens at 5/s with ``--frames``), and
* a CLAP-sized stand-in: LAION-CLAP at full size with random weights (HTSAT-base audio tower,
  12-layer RoBERTa text tower; 48 kHz input, 10 s windows, 512-d vectors, 1,024-d tokens at
  3.2/s with ``--frames``), as in ``bench_embed_throughput.py``.

Peak memory is the process's (``ru_maxrss``); "N songs" against "1 song" shows whether memory
grows with the number of songs (it must not: clips are embedded batch by batch as they are
read, see ``clapmos.embed.engines.runner``). The store size for SongEval's 2,400 songs is the
measured size per song (the frame tokens dominate) times 2,400. Writes the ``long_audio``
section of BENCHMARKS.md.

    python benchmarks/bench_long_audio.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import machine_line, run_child, write_section  # noqa: E402
from bench_embed_throughput import PREPARE  # noqa: E402

SECONDS, RATE, SONGS_IN_SONGEVAL, MANY = 240.0, 44_100, 2_400, 4


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6


def write_song(folder: Path) -> Path:
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * RATE)) / RATE
    left = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.002 * t)) + 0.03 * rng.standard_normal(len(t))
    right = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.03 * rng.standard_normal(len(t))
    path = folder / "song.mp3"
    sf.write(path, np.stack([left, right], axis=1).astype(np.float32), RATE, format="MP3")
    return path


def manifest(folder: Path, song: Path, n: int) -> Path:
    lines = ["path,score"]
    for i in range(n):
        link = folder / f"song{i}.mp3"
        if not link.exists():
            link.symlink_to(song)
        lines.append(f"{link.name},{3 + i % 2}")
    path = folder / f"manifest{n}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def embed(root: Path, out: Path, embedder: list[str], frames: bool) -> dict:
    code = f"""
import time, cli
start = time.perf_counter()
status = cli.app(["embed", "--corpus", "manifest", "--root", {str(root)!r}, "--out", {str(out)!r}, *{embedder!r}]
        + (["--frames"] if {frames!r} else []), standalone_mode=False)
assert status in (None, 0), f"the command failed (exit {{status}})"
_result = {{"seconds": time.perf_counter() - start}}
"""
    result = run_child(code)
    result["store_mb"] = folder_mb(out)
    name = embedder[embedder.index("--embedder") + 1]
    result["frames_mb"] = folder_mb(out / "features" / name / "frames") if frames else 0.0
    return result


def main() -> None:
    rows, sizes = [], []
    with tempfile.TemporaryDirectory(prefix="clapmos-long-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        song = write_song(tmp)
        encode_s = time.perf_counter() - started
        run_child(PREPARE.format(folder=str(tmp / "clap"), clips=1, seconds=1.0, rate=16000, prompts=["a song"]))
        clap = ["--embedder", "clap", "--checkpoint", str(tmp / "clap" / "random_htsat_base.pt"), "--tokenizer", str(tmp / "clap" / "tokenizer")]
        spectral = ["--embedder", "spectral"]
        one, many = manifest(tmp, song, 1), manifest(tmp, song, MANY)
        for label, embedder in (("spectral", spectral), ("CLAP-sized stand-in", clap)):
            plain = embed(one, tmp / "plain.zarr", embedder, frames=False)
            framed = embed(one, tmp / "frames.zarr", embedder, frames=True)
            several = embed(many, tmp / "many.zarr", embedder, frames=True)
            print(label, plain, framed, several, flush=True)
            rows.append(
                f"| {label} | {plain['seconds']:.1f} | {plain['peak_mb']:.0f} | {framed['seconds']:.1f} | {framed['peak_mb']:.0f} "
                f"| {several['seconds'] / MANY:.1f} | {several['peak_mb']:.0f} |"
            )
            per_song_plain = plain["store_mb"]  # one song: the store's files, arrays and metadata included
            per_song_frames = several["frames_mb"] / MANY
            sizes.append(
                f"| {label} | {per_song_plain:.2f} (whole store of 1 song) | {per_song_frames:.2f} "
                f"| {SONGS_IN_SONGEVAL * per_song_frames / 1000:.2f} |"
            )
            for path in ("plain.zarr", "frames.zarr", "many.zarr"):
                import shutil

                shutil.rmtree(tmp / path, ignore_errors=True)
    tokens = SECONDS * 3.2 * 1024 * 2 / 1e6
    write_section(
        "long_audio",
        f"""## Full-length songs: a 4-minute 44.1 kHz stereo MP3 (`benchmarks/bench_long_audio.py`)

One {SECONDS:.0f} s, 44.1 kHz stereo MP3 (written by libsndfile's MP3 encoder in {encode_s:.1f} s; soundfile
{__import__('soundfile').__libsndfile_version__} reads MP3), embedded by `cli.py embed --corpus manifest` in a fresh
process on a fresh store: 2 reader threads, default windows (10 s, no overlap: 24 windows per song), CPU.
The {MANY}-song manifest lists the same file {MANY} times under other names. Peak memory is the whole process
(Python, torch and the model included); times include starting the process and loading the model, and
are single runs on a shared machine: noisy, compare within a row.

| embedder | 1 song (s) | peak (MB) | 1 song `--frames` (s) | peak (MB) | {MANY} songs `--frames`, s per song | peak (MB) |
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Memory does not grow with the number of songs: a block of clips is embedded batch by batch as its
files are read, and the reader threads stop reading ahead once 4 batches of windows wait.

Store size for SongEval's {SONGS_IN_SONGEVAL:,} songs (float16 frame tokens, zarr's default zstd):

| embedder | store without frames (MB) | frame tokens per song (MB) | frame tokens, {SONGS_IN_SONGEVAL:,} songs (GB) |
|---|---:|---:|---:|
{chr(10).join(sizes)}

Without frames a song is one pooled vector per embedder (2 KB for a 512-d float32 vector), so
{SONGS_IN_SONGEVAL:,} songs take a few MB. The arithmetic for real CLAP tokens (1,024-d at 3.2/s, float16):
{SECONDS:.0f} s × 3.2 × 1,024 × 2 bytes = {tokens:.2f} MB per song, {SONGS_IN_SONGEVAL * tokens / 1000:.1f} GB for
{SONGS_IN_SONGEVAL:,} songs before compression (random weights give tokens that compress about as little).

Measured on {machine_line()}.
""",
    )


if __name__ == "__main__":
    main()
