"""Shared fixtures: tiny corpora made on the fly, never downloaded."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# One thread per library (torch reads this when it is imported), as `--threads 1` does for the CLI:
# on a shared 2-core machine two-thread torch fits stall (BENCHMARKS.md, "Threads").
os.environ.setdefault("OMP_NUM_THREADS", "1")
# clapmos's own default (--threads of embed and fit: every usable core) is 1 for the suite, as on CI
os.environ.setdefault("CLAPMOS_THREADS", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

from clapmos.embed.corpora.table import Corpus  # noqa: E402


def make_corpus(folder: Path, n: int = 10, seconds: float = 0.5, sample_rate: int = 22050, seed: int = 0) -> Corpus:
    """A rated corpus of ``n`` noisy tones written as wav files into ``folder`` (two targets, 3 raters each)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        t = np.arange(int(seconds * sample_rate)) / sample_rate
        audio = 0.3 * np.sin(2 * np.pi * (220 + 40 * i) * t) + 0.05 * rng.standard_normal(len(t))
        path = folder / f"clip{i:04d}.wav"
        sf.write(path, audio.astype(np.float32), sample_rate)
        paths.append(str(path))
    items = pd.DataFrame(
        {
            "id": [f"clip{i:04d}" for i in range(n)],
            "path": paths,
            "text": [f"a tone number {i % 3}" for i in range(n)],
            "system": [f"S{i % 3}" for i in range(n)],
            "split": ["train" if i < 0.7 * n else "dev" for i in range(n)],
        }
    )
    scores = rng.integers(1, 6, size=(n, 3, 2)).astype(float)
    ratings = pd.DataFrame(
        {
            "item": np.repeat(np.arange(n), 3),
            "listener": [f"L{(i + j) % 5}" for i in range(n) for j in range(3)],
            "overall": scores[:, :, 0].ravel(),
            "textual": scores[:, :, 1].ravel(),
        }
    )
    labels = pd.DataFrame({"overall": scores[:, :, 0].mean(1), "textual": scores[:, :, 1].mean(1)})
    return Corpus("manifest", items, labels, ratings, ["overall", "textual"], source=str(folder))


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Corpus:
    return make_corpus(tmp_path / "audio")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch work in one thread: small models are faster so, and two threads stall on a busy shared machine.

    Module-scoped, so that module-scoped fixtures that fit models run in one thread too.
Results do not depend on it (the stored 0.1.0 predictions match either way; BENCHMARKS.md, ``fit_heads``).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def spectral_store(tmp_path_factory):
    """A store of 24 short synthetic clips (two targets, listener ratings) embedded with ``spectral``: a module's to share."""
    from clapmos.embed.engines.runner import embed_corpus
    from clapmos.embed.store import FeatureStore

    folder = tmp_path_factory.mktemp("spectral")
    store = FeatureStore.create(folder / "s.zarr", make_corpus(folder / "audio", n=24, seconds=0.2))
    embed_corpus(store, "spectral", progress=False)
    return store
