"""`cli.py fit --cv 5` per head on stores of MusicEval and XACLE size, against one CLAP epoch.

Two synthetic stores with random embeddings that carry a latent quality, the challenges'
sizes and rating layouts:

* MusicEval-sized: 2,335 items × (512 audio | 512 text), two targets on 1–5, 5 of 14 raters per clip;
* XACLE-sized: 10,500 items × (768 | 768), one target on 0–10, 4 listeners per clip from a pool of 3,000.

Each head is fitted by the real command (`fit --cv 5`, default settings) in a fresh process;
wall time and peak memory are that process's. The stores hold a second embedder of the same size
(another random view of the latent quality), for a two-embedder ridge (`--embedder synthetic,synthetic2`).
The load average of the machine is recorded before and after every fit: the cores may be shared.
Torch runs on one thread in every fit (on a busy machine two-thread torch fits stall, see `fit_heads`). The comparison is one epoch of the approach the
seeds used: re-encoding every clip with CLAP (HTSAT-base, random weights, 10 s windows at 48 kHz,
batch 8) — timed on a sample of clips in this same run and scaled to the corpus size (forward
pass only, so a lower bound: fine-tuning adds the backward pass).

    python benchmarks/bench_fit_cv.py            # writes the "fit_cv" section of BENCHMARKS.md
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import machine_line, run_child, write_section  # noqa: E402

# (head, embedders) per row
FITS = [(head, "synthetic") for head in ("ridge", "lgbm", "mlp", "spo_mlp", "cosine", "svr", "dist", "coral")]
FITS.append(("ridge", "synthetic,synthetic2"))
CLAP_SAMPLE_CLIPS = 8


def synthetic_store(path: Path, n: int, dim: int, targets: list[str], scale: tuple[int, int], raters: int, pool: int, systems: int, seed: int) -> None:
    """Write a store of ``n`` items with random unit embeddings carrying a latent quality."""
    from clapmos.embed.store import FeatureStore

    rng = np.random.default_rng(seed)
    corpus, quality = synthetic_corpus(rng, n, targets, scale, raters, pool, systems)
    store = FeatureStore.create(path, corpus)
    for name in ("synthetic", "synthetic2"):
        direction = rng.normal(size=(len(targets), 2 * dim))
        features = rng.normal(size=(n, 2 * dim)) + quality @ direction * 0.5
        audio, text = features[:, :dim], features[:, dim:]
        audio /= np.linalg.norm(audio, axis=1, keepdims=True)
        text /= np.linalg.norm(text, axis=1, keepdims=True)
        store.prepare_features(name, dim, dim, {"embedder": name, "sample_rate": 48000, "window_s": 10.0, "hop_s": 10.0})
        step = store.chunk_rows(name)
        for start in range(0, n, step):
            store.write_block(name, start, audio[start : start + step], text[start : start + step])


def synthetic_corpus(rng, n: int, targets: list[str], scale: tuple[int, int], raters: int, pool: int, systems: int):
    """A rated corpus of ``n`` items (no audio) whose listeners rate a latent quality per target; returns it and the quality."""
    from clapmos.embed.corpora.table import Corpus

    low, high = scale
    quality = rng.normal(size=(n, len(targets)))
    items = pd.DataFrame({
        "id": [f"clip{i:05d}" for i in range(n)],
        "path": [f"/nonexistent/clip{i:05d}.wav" for i in range(n)],
        "text": [f"prompt {i % 400}" for i in range(n)],
        "system": [f"S{i % systems:03d}" if systems else "" for i in range(n)],
        "split": ["train"] * n,
    })
    listener_ids = np.stack([rng.choice(pool, raters, replace=False) for _ in range(n)])
    bias, spread = rng.normal(0, 0.8, pool), rng.uniform(0.6, 1.6, pool)
    mid, half = (low + high) / 2, (high - low) / 4
    scores = np.clip(np.round(mid + half * (quality[:, None, :] * spread[listener_ids][..., None] + bias[listener_ids][..., None])), low, high)
    ratings = pd.DataFrame({"item": np.repeat(np.arange(n), raters), "listener": [f"L{j}" for j in listener_ids.ravel()]})
    for t, name in enumerate(targets):
        ratings[name] = scores[:, :, t].ravel()
    labels = pd.DataFrame({name: scores[:, :, t].mean(axis=1) for t, name in enumerate(targets)})
    return Corpus("manifest", items, labels, ratings, targets), quality


def time_fit(store: Path, head: str, out: Path, embedders: str = "synthetic") -> dict:
    code = f"""
import time, torch, cli
torch.set_num_threads(1)
start = time.perf_counter()
status = cli.app(["fit", "--store", {str(store)!r}, "--embedder", {embedders!r}, "--head", {head!r}, "--cv", "5",
         "--out", {str(out)!r}, "--no-plots"], standalone_mode=False)
assert status in (None, 0), f"the command failed (exit {{status}})"
_result = {{"seconds": time.perf_counter() - start}}
"""
    before = os.getloadavg()[0]
    result = run_child(code)
    result["load"] = (before, os.getloadavg()[0])
    return result


def time_clap_forward() -> dict:
    """Seconds per clip of the CLAP audio forward (HTSAT-base, random weights, batch 8, 10 s at 48 kHz)."""
    code = f"""
import time, numpy as np, torch
from clapmos.embed.backends.laion_package import build_clap_module
torch.manual_seed(0)
model = build_clap_module(tokenizer=None, text_layers=1)
windows = np.random.default_rng(0).uniform(-0.5, 0.5, size=({CLAP_SAMPLE_CLIPS}, 480000)).astype(np.float32)
with torch.no_grad():
    model.get_audio_embedding_from_data(windows[:2], use_tensor=False)  # warm-up
    start = time.perf_counter()
    model.get_audio_embedding_from_data(windows, use_tensor=False)
    seconds = time.perf_counter() - start
_result = {{"seconds_per_clip": seconds / {CLAP_SAMPLE_CLIPS}}}
"""
    before = os.getloadavg()[0]
    result = run_child(code)
    result["load"] = (before, os.getloadavg()[0])
    return result


def main() -> None:
    corpora = {
        "MusicEval-sized (2,335 × 1,024)": dict(n=2335, dim=512, targets=["overall", "textual"], scale=(1, 5), raters=5, pool=14, systems=31),
        "XACLE-sized (10,500 × 1,536)": dict(n=10500, dim=768, targets=["alignment"], scale=(0, 10), raters=4, pool=3000, systems=0),
    }
    clap = time_clap_forward()
    rows, loads = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, spec) in enumerate(corpora.items()):
            store = Path(tmp) / f"store{k}.zarr"
            synthetic_store(store, seed=k, **spec)
            epoch = clap["seconds_per_clip"] * spec["n"]
            for i, (head, embedders) in enumerate(FITS):
                result = time_fit(store, head, Path(tmp) / f"run{k}-{i}", embedders)
                print(name, head, embedders, result, flush=True)
                label = f"`{head}`" + (" (two embedders)" if "," in embedders else "")
                loads += list(result["load"])
                rows.append(
                    f"| {name} | {label} | {result['seconds']:.1f} | {result['peak_mb'] / 1024:.2f} GB | {epoch:.0f} | "
                    f"{epoch / result['seconds']:.0f}× | {result['load'][0]:.1f}–{result['load'][1]:.1f} |"
                )
    write_section(
        "fit_cv",
        f"""## `fit --cv 5` per head, against one CLAP epoch

Synthetic stores of the challenges' sizes (random unit embeddings carrying a latent quality; listener
ratings in each challenge's layout); each head fitted by `cli.py fit --cv 5` with default settings in a
fresh process (5 fold models per target, out-of-fold scoring, saving the run; no plots; torch on one
thread, `torch.set_num_threads(1)`, as two-thread torch fits stall when other jobs share the cores). *One CLAP
epoch*: the CLAP audio forward (HTSAT-base, random weights, batch 8 of 10 s windows at 48 kHz) timed on
{CLAP_SAMPLE_CLIPS} clips in the same run ({clap['seconds_per_clip']:.2f} s per clip, at load {clap['load'][0]:.1f}–{clap['load'][1]:.1f}) and scaled to the
corpus — what the seeds pay per epoch by re-encoding every clip (forward only: a lower bound, fine-tuning
adds the backward pass). *Ratio* = one CLAP epoch / the whole 5-fold fit. *Two embedders*: the store's
two 1,024- (or 1,536-) column embedders side by side (`--embedder synthetic,synthetic2`). *Load*: the
machine's 1-minute load average before and after the fit; with 2 cores, a load above 2 means other
jobs (other helpers' test suites) shared them, and times are inflated accordingly (load during this
run: {min(loads):.1f}–{max(loads):.1f}).

| store | head | fit --cv 5 (s) | peak memory | one CLAP epoch (s) | ratio | load |
|---|---|---:|---:|---:|---:|---|
{chr(10).join(rows)}

Machine: {machine_line()}.""",
    )


if __name__ == "__main__":
    main()
