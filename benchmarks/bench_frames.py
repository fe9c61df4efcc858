"""Frame tokens: what ``embed --frames`` costs (store size, embed time), and ``fit --cv 5`` of the frame heads.

Two sections of BENCHMARKS.md:

* ``frames_embed`` — ``embed --embedder spectral`` with and without ``--frames`` on the demo
  corpus (240 clips of 2–3 s) and on a XACLE-sized corpus (13,500 clips of 10 s at 16 kHz;
  the files are symbolic links to 300 distinct generated clips, so the disk and the page
  cache are not what is measured). Each run is a fresh process on a fresh store (serial
  engine, 2 reader threads), without and with frames interleaved, ``ROUNDS`` times; the
  fastest of each is kept (the least disturbed by the machine's other work). The store's
  size on disk is that of its files.
* ``frames_fit`` — ``cli.py fit --head attn_mlp|xattn --cv 5`` (default settings) in a fresh
  process on synthetic frame stores of the challenges' sizes, with CLAP-shaped tokens
  (1,024-d at 3.2 per second, float16): MusicEval-sized, 2,335 clips of 10–35 s (≈ 70 tokens
  on average; two targets, 5 of 14 raters per clip), and XACLE-sized, 10,500 clips of 10 s
  (32 tokens; one target on 0–10, 4 listeners per clip from 3,000). Tokens are noise with
  a short stretch carrying each clip's latent quality, so early stopping behaves as on
  data with something to learn. Wall time and peak memory are the process's.

    python benchmarks/bench_frames.py                 # both sections
    python benchmarks/bench_frames.py embed           # one of them: embed or fit
    python benchmarks/bench_frames.py fit --threads 1 # only the fits with OMP_NUM_THREADS=1 (default: 2, then 1)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import machine_line, run_child, write_section  # noqa: E402

XACLE_CLIPS, DISTINCT = 13_500, 300
ROUNDS = 2
FRAME_DIM, RATE = 1024, 3.2


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6


# ---------------------------------------------------------------------- embed
def xacle_sized_corpus(folder: Path) -> Path:
    """A manifest of 13,500 ten-second clips (links to 300 distinct noisy tone files) with one score each."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    (folder / "distinct").mkdir(parents=True)
    (folder / "clips").mkdir()
    t = np.arange(160_000) / 16_000
    for k in range(DISTINCT):
        audio = 0.3 * np.sin(2 * np.pi * (110 + 3 * k) * t * (1 + 0.01 * t)) + 0.05 * rng.standard_normal(len(t))
        sf.write(folder / "distinct" / f"{k:03d}.wav", audio.astype(np.float32), 16_000, subtype="PCM_16")
    rows = []
    for i in range(XACLE_CLIPS):
        link = folder / "clips" / f"{i:05d}.wav"
        link.symlink_to(folder / "distinct" / f"{i % DISTINCT:03d}.wav")
        rows.append({"path": f"clips/{i:05d}.wav", "text": f"prompt {i % 1000}", "score": float(rng.integers(0, 11))})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


def time_embed(corpus: str, root: Path, out: Path, frames: bool) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    code = f"""
import time, cli
start = time.perf_counter()
status = cli.app(["embed", "--corpus", {corpus!r}, "--root", {str(root)!r}, "--embedder", "spectral", "--out", {str(out)!r}]
        + (["--frames"] if {frames!r} else []), standalone_mode=False)
assert status in (None, 0), f"the command failed (exit {{status}})"
_result = {{"seconds": time.perf_counter() - start}}
"""
    result = run_child(code)
    result["store_mb"] = folder_mb(out)
    result["frames_mb"] = folder_mb(out / "features" / "spectral" / "frames") if frames else 0.0
    result["load"] = load_average()
    return result


def embed_section() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "cli.py", "make-demo", str(tmp / "demo")], check=True, capture_output=True, cwd=Path(__file__).resolve().parent.parent)
        manifest = xacle_sized_corpus(tmp / "xacle")
        for name, corpus, root in (("demo (240 clips of 2–3 s)", "musiceval", tmp / "demo"), ("XACLE-sized (13,500 clips of 10 s)", "manifest", manifest)):
            runs = [(time_embed(corpus, root, tmp / f"{corpus}-plain.zarr", frames=False),
                     time_embed(corpus, root, tmp / f"{corpus}-frames.zarr", frames=True)) for _ in range(ROUNDS)]
            plain = min((r[0] for r in runs), key=lambda r: r["seconds"])
            framed = min((r[1] for r in runs), key=lambda r: r["seconds"])
            print(name, plain, framed, flush=True)
            rows.append(
                f"| {name} | {plain['seconds']:.1f} | {framed['seconds']:.1f} | {framed['seconds'] / plain['seconds']:.2f}× "
                f"| {plain['store_mb']:.1f} | {framed['store_mb']:.1f} (frames {framed['frames_mb']:.1f}) | {framed['load']} |"
            )
    write_section(
        "frames_embed",
        f"""## `embed --frames`: store size and embed time (`spectral`)

`embed --embedder spectral` without and with `--frames` (128-d tokens, 5 per second, float16 on disk),
each a fresh process writing a fresh store (serial engine, 2 reader threads), {ROUNDS} rounds interleaved, the
fastest of each kept. The XACLE-sized corpus is
13,500 manifest rows whose files are links to {DISTINCT} distinct generated 10 s clips (16-bit wav at 16 kHz).
Sizes are the stores' files on disk (zarr's default zstd compression); the frame tokens are 50 per 10 s.

| corpus | embed (s) | with `--frames` (s) | ratio | store (MB) | with `--frames` (MB) | load average (1, 5, 15 min) after the fastest run with frames |
|---|---:|---:|---:|---:|---:|---|
{chr(10).join(rows)}

With `spectral` the model is cheap, so pooling, compressing and writing the tokens show; `clap` takes its tokens
from the forward pass that makes the clip vector (only the writing is added), `m2d` runs its encoder a second
time (about twice the embed time). The machine is shared with other jobs: the load average beside each row
says how busy it was (2 cores; above 2 the runs waited for a core). Machine: {machine_line()}.""",
    )


# ---------------------------------------------------------------------- fit
def synthetic_frame_store(path: Path, n: int, seconds: tuple[float, float], targets: list[str], scale: tuple[int, int],
                          raters: int, pool: int, systems: int, seed: int) -> float:
    """A store of ``n`` clips with CLAP-shaped frame tokens carrying a latent quality in a short stretch; returns mean tokens per clip."""
    from bench_fit_cv import synthetic_corpus
    from clapmos.embed.store.frames import Frames
    from clapmos.embed.store import FeatureStore

    rng = np.random.default_rng(seed)
    corpus, quality = synthetic_corpus(rng, n, targets, scale, raters, pool, systems)
    store = FeatureStore.create(path, corpus)
    lengths = np.ceil(rng.uniform(*seconds, size=n) * RATE).astype(int)
    store.prepare_features("synthetic", 512, 512, {"embedder": "synthetic", "sample_rate": 48000, "window_s": 10.0, "hop_s": 10.0})
    store.prepare_frames("synthetic", FRAME_DIM, lengths, {"frame_rate": RATE, "frames": "synthetic"})
    directions = rng.normal(size=(len(targets) + 1, FRAME_DIM)) / np.sqrt(FRAME_DIM)
    step = store.chunk_rows("synthetic")
    for start in range(0, n, step):
        rows = range(start, min(start + step, n))
        sequences = []
        for i in rows:
            tokens = rng.normal(size=(lengths[i], FRAME_DIM)).astype(np.float32)
            s = rng.integers(0, lengths[i] - 3 + 1)
            tokens[s : s + 3] += 3.0 * directions[0] * np.sqrt(FRAME_DIM) / 8 + (quality[i] @ directions[1:]) * np.sqrt(FRAME_DIM) / 8
            sequences.append(tokens)
        frames = Frames.from_list(sequences, [np.arange(len(t)) / RATE for t in sequences])
        vectors = np.stack([t.mean(axis=0)[:512] for t in sequences])
        text = rng.normal(size=(len(rows), 512)).astype(np.float32)
        store.write_block("synthetic", start, vectors, text, frames=frames)
    return float(lengths.mean())


def time_fit(store: Path, head: str, out: Path) -> dict:
    code = f"""
import time, cli
start = time.perf_counter()
status = cli.app(["fit", "--store", {str(store)!r}, "--embedder", "synthetic", "--head", {head!r}, "--cv", "5",
         "--out", {str(out)!r}, "--no-plots"], standalone_mode=False)
assert status in (None, 0), f"the command failed (exit {{status}})"
seconds = time.perf_counter() - start
from clapmos.heads.runs.run import load_run
models = [m.named_steps["model"] for e in load_run({str(out)!r}).models.values() for ms in e.models_.values() for m in ms]
_result = {{"seconds": seconds, "epochs": [len(m.history_) - 1 for m in models], "best": [m.best_epoch_ for m in models]}}
"""
    result = run_child(code, timeout=6 * 3600)
    result["load"] = load_average()
    return result


def fit_section(heads=("attn_mlp", "xattn"), threads: tuple[int, ...] = (2, 1)) -> None:
    corpora = {
        "MusicEval-sized": dict(n=2335, seconds=(10.0, 35.0), targets=["overall", "textual"], scale=(1, 5), raters=5, pool=14, systems=31),
        "XACLE-sized": dict(n=10500, seconds=(10.0, 10.0), targets=["alignment"], scale=(0, 10), raters=4, pool=3000, systems=0),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, spec) in enumerate(corpora.items()):
            store = Path(tmp) / f"store{k}.zarr"
            started = time.perf_counter()
            tokens = synthetic_frame_store(store, seed=k, **spec)
            print(f"{name}: store written in {time.perf_counter() - started:.0f} s, {folder_mb(store):.0f} MB", flush=True)
            for head in heads:
                for count in threads:
                    os.environ["OMP_NUM_THREADS"] = str(count)  # inherited by the fit process; torch takes its thread count from it
                    result = time_fit(store, head, Path(tmp) / f"run{k}-{head}-{count}")
                    print(name, head, count, result, flush=True)
                    label = f"{name} ({spec['n']:,} clips × {tokens:.0f} tokens × {FRAME_DIM:,}, {len(spec['targets'])} target{'s' * (len(spec['targets']) > 1)})"
                    epochs = f"{np.mean(result['epochs']):.0f} (best {np.mean(result['best']):.0f})"
                    rows.append(f"| {label} | `{head}` | {count} | {result['seconds'] / 60:.1f} | {epochs} | {result['peak_mb'] / 1024:.2f} GB | {result['load']} |")
    write_section(
        "frames_fit",
        f"""## `fit --cv 5` of the frame heads

`cli.py fit --head attn_mlp|xattn --cv 5` with default settings (d_model 64, 4 heads, no encoder layer,
MLP 128, batch 32 clips bucketed by length, at most 60 epochs with early stopping, SPO targets; CPU)
in a fresh process, on synthetic stores with CLAP-shaped frame tokens
(1,024-d, 3.2 per second, float16) whose latent quality sits in a 3-token stretch. Five fold models per
target, out-of-fold scoring, saving the run; no plots. Epochs: run, and the best one kept (early stopping
with patience 10 on the validation SRCC).

| store | head | torch threads | fit --cv 5 (min) | epochs per fold model (mean) | peak memory | load average (1, 5, 15 min) after the fit |
|---|---|---:|---:|---|---:|---|
{chr(10).join(rows)}

The synthetic prompts are random, so `xattn`'s text query carries nothing and it learns the stretch slowly
(on MusicEval-sized data it used all 60 epochs); on real data its epochs depend on what the text explains.
The machine is shared with other jobs: the load average beside each row says how busy it was (2 cores).
Under load, two-thread torch stalls on these many small operations (see also the `fit_heads` section):
`OMP_NUM_THREADS=1` (or `torch.set_num_threads(1)` in Python) avoids it. Machine: {machine_line()}.""",
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    threads = (int(args[args.index("--threads") + 1]),) if "--threads" in args else (2, 1)
    which = [a for a in args if a in ("embed", "fit")] or ["embed", "fit"]
    if "embed" in which:
        embed_section()
    if "fit" in which:
        fit_section(threads=threads)
