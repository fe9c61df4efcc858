"""Full-length songs: embedding 4-minute 44.1 kHz stereo MP3s, time and peak memory, and the store size for SongEval.

Setup: one 240 s, 44.1 kHz stereo MP3 (a drifting tone with noise, written by libsndfile's MP3
encoder); a manifest lists it once ("1 song") or ``MANY`` times under different names (links
to it: "N songs"). Each measurement is ``cli.py embed --corpus manifest`` in a fresh process on
a fresh store (serial engine, 2 reader threads, default windows: 10 s, no overlap), with

* ``spectral`` (16 kHz log-mel statistics, 128-d tokens at 5/s with ``--frames``), and
* a CLAP-sized stand-in: LAION-CLAP at full size with random weights (HTSAT-base audio tower,
  12-layer RoBERTa text tower; 48 kHz input, 10 s windows, 512-d vectors, 1,024-d tokens at
  3.2/s with ``--frames``), as in ``bench_embed_throughput.py``.

Each embedding is run twice: "before", with the clip reader of the earlier releases (the whole
file decoded in one read, down-mixed, resampled by one ``soxr.resample`` call, then cut), patched
in; "after", with the reader of this release (``clapmos.embed.audio.stream_windows``: blocks of
65,536 frames, soxr's ``ResampleStream``, windows cut as the blocks arrive; MP3 is decoded in one
read, see ``WHOLE_READ_FORMATS``). A second table reads one song's windows alone (no model), as
MP3 and as 16-bit FLAC, with the allocation peak of ``tracemalloc`` and the process peak.

Peak memory is the process's own high-water mark (``VmHWM`` of ``/proc/self/status``: the
``ru_maxrss`` that ``run_child`` reports keeps, across ``exec``, the resident size of the forked
parent, here the benchmark itself after writing the song, about 520 MB); "N songs" against "1 song" shows whether memory
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


#: the clip reader of the earlier releases (whole-file decode, one soxr.resample call), as a patch for "before"
WHOLE_FILE_READER = """
import numpy as np, soundfile as sf, soxr
from clapmos.embed.audio import cut_windows, segment_frames


def whole_file_audio(path, sample_rate, start_s=None, end_s=None):
    with sf.SoundFile(str(path)) as audio:
        rate = audio.samplerate
        first, last = segment_frames(start_s, end_s, rate, audio.frames)
        audio.seek(first)
        data = audio.read(-1 if end_s is None else max(0, last - first), dtype="float32", always_2d=True)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def whole_file_windows(path, sample_rate, window_s, hop_s, start_s=None, end_s=None):
    return cut_windows(whole_file_audio(path, sample_rate, start_s, end_s), sample_rate, window_s, hop_s)
"""

PATCH_BEFORE = WHOLE_FILE_READER + """
import clapmos.embed.engines.runner as _runner
_runner.stream_windows = whole_file_windows
"""


#: the child's own peak resident memory (MB); appended to every measured child
OWN_PEAK = """
_result["hwm_mb"] = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
"""


def read_windows(path: Path, sample_rate: int, before: bool) -> dict:
    code = WHOLE_FILE_READER + f"""
import time, tracemalloc
from clapmos.embed.audio import stream_windows
tracemalloc.start()
start = time.perf_counter()
windows = {'whole_file_windows' if before else 'list(stream_windows'}({str(path)!r}, {sample_rate}, 10.0, 10.0){'' if before else ')'}
seconds = time.perf_counter() - start
_result = {{"seconds": seconds, "traced_mb": tracemalloc.get_traced_memory()[1] / 1e6, "windows": len(windows)}}
""" + OWN_PEAK
    return run_child(code)


def embed(root: Path, out: Path, embedder: list[str], frames: bool, before: bool = False) -> dict:
    code = (PATCH_BEFORE if before else "") + f"""
import time, cli
start = time.perf_counter()
status = cli.app(["embed", "--corpus", "manifest", "--root", {str(root)!r}, "--out", {str(out)!r}, *{embedder!r}]
        + (["--frames"] if {frames!r} else []), standalone_mode=False)
assert status in (None, 0), f"the command failed (exit {{status}})"
_result = {{"seconds": time.perf_counter() - start}}
""" + OWN_PEAK
    result = run_child(code)
    result["store_mb"] = folder_mb(out)
    name = embedder[embedder.index("--embedder") + 1]
    result["frames_mb"] = folder_mb(out / "features" / name / "frames") if frames else 0.0
    return result


def main() -> None:
    rows, sizes, reads = [], [], []
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
            for when in ("before", "after"):
                before = when == "before"
                plain = embed(one, tmp / "plain.zarr", embedder, frames=False, before=before)
                framed = embed(one, tmp / "frames.zarr", embedder, frames=True, before=before)
                several = embed(many, tmp / "many.zarr", embedder, frames=True, before=before)
                print(label, when, plain, framed, several, flush=True)
                rows.append(
                    f"| {label} | {when} | {plain['seconds']:.1f} | {plain['hwm_mb']:.0f} | {framed['seconds']:.1f} | {framed['hwm_mb']:.0f} "
                    f"| {several['seconds'] / MANY:.1f} | {several['hwm_mb']:.0f} |"
                )
                if not before:
                    per_song_plain = plain["store_mb"]  # one song: the store's files, arrays and metadata included
                    per_song_frames = several["frames_mb"] / MANY
                    sizes.append(
                        f"| {label} | {per_song_plain:.2f} (whole store of 1 song) | {per_song_frames:.2f} "
                        f"| {SONGS_IN_SONGEVAL * per_song_frames / 1000:.2f} |"
                    )
                for path in ("plain.zarr", "frames.zarr", "many.zarr"):
                    import shutil

                    shutil.rmtree(tmp / path, ignore_errors=True)
        flac = tmp / "song.flac"
        import soundfile as sf

        sf.write(flac, sf.read(song, dtype="float32")[0], RATE, subtype="PCM_16")
        empty = run_child(WHOLE_FILE_READER + "\n_result = {}" + OWN_PEAK)["hwm_mb"]
        for name, path in (("MP3", song), ("FLAC, 16-bit", flac)):
            for rate in (48_000, 16_000):
                cells = []
                for before in (True, False):
                    result = read_windows(path, rate, before)
                    print(name, rate, before, result, flush=True)
                    cells.append(f"{result['seconds']:.2f} | {result['traced_mb']:.0f} | {result['hwm_mb']:.0f}")
                reads.append(f"| {name} | {rate / 1000:g} kHz | {' | '.join(cells)} |")
    tokens = SECONDS * 3.2 * 1024 * 2 / 1e6
    write_section(
        "long_audio",
        f"""## Full-length songs: a 4-minute 44.1 kHz stereo MP3 (`benchmarks/bench_long_audio.py`)

One {SECONDS:.0f} s, 44.1 kHz stereo MP3 (written by libsndfile's MP3 encoder in {encode_s:.1f} s; soundfile
{__import__('soundfile').__libsndfile_version__} reads MP3), embedded by `cli.py embed --corpus manifest` in a fresh
process on a fresh store: 2 reader threads, default windows (10 s, no overlap: 24 windows per song), CPU.
The {MANY}-song manifest lists the same file {MANY} times under other names. Peak memory is the whole process's
own high-water mark (`VmHWM`; Python, torch and the model included; earlier versions of this table gave
`ru_maxrss`, which Linux carries over from the forked benchmark process, about 520 MB here); times include starting the process and loading the model, and
are single runs on a shared machine: noisy, compare within a row.

| embedder | reader | 1 song (s) | peak (MB) | 1 song `--frames` (s) | peak (MB) | {MANY} songs `--frames`, s per song | peak (MB) |
|---|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

*before*: the earlier reader (whole file decoded in one read, down-mixed, one `soxr.resample` call,
then cut); *after*: `stream_windows` (blocks of 65,536 frames through soxr's `ResampleStream`,
windows cut as the blocks arrive; an MP3 is still decoded in one read, because libsndfile 1.2.2
zero-fills MP3 read in parts).

Reading one song's 24 windows alone (no model), fresh process each; "allocated" is the
`tracemalloc` peak of the reading, "process" the whole process's peak (an empty process with
numpy, soundfile and soxr loaded: {empty:.0f} MB):

| file | to | before (s) | allocated (MB) | process (MB) | after (s) | allocated (MB) | process (MB) |
|---|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(reads)}

In a whole embedding the model sets the peak, so the reader shows most with the light spectral
embedder; read alone, a FLAC or WAV song takes its windows plus a block, while an MP3 still
allocates its whole decode and its down-mix at one moment (libsndfile 1.2.2, see above).

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
