"""An embed run killed with SIGKILL at any point resumes and ends with the same store as one clean run."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from embed.runner import embed_corpus
from embed.store import FEATURE_CHUNK, FeatureStore
from tests.conftest import make_corpus

N_CLIPS = 3 * FEATURE_CHUNK + 10  # four blocks, the last one partial

SLOW_EMBED = textwrap.dedent(
    """
    import pickle, sys, time
    from embed.backends.spectral import SpectralEmbedder
    from embed.runner import embed_corpus
    from embed.store import FeatureStore

    class SlowSpectral(SpectralEmbedder):
        def embed_audio(self, windows):
            time.sleep(0.04 * len(windows))  # 2.5 s per block: room to kill between blocks
            return super().embed_audio(windows)

    corpus = pickle.load(open(sys.argv[1], "rb"))
    store = FeatureStore.create(sys.argv[2], corpus)
    embed_corpus(store, SlowSpectral(batch_size=8), progress=False)
    """
)


@pytest.fixture(scope="module")
def corpus_and_reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    corpus = make_corpus(folder / "audio", n=N_CLIPS, seconds=0.05, sample_rate=16000)
    reference = FeatureStore.create(folder / "reference.zarr", corpus)
    embed_corpus(reference, "spectral", progress=False)
    with open(folder / "corpus.pkl", "wb") as fh:
        pickle.dump(corpus, fh)
    return folder, corpus, reference


def _start(folder: Path, store: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.Popen([sys.executable, "-c", SLOW_EMBED, str(folder / "corpus.pkl"), str(store)], env=env)


def _done_rows(store: Path) -> int:
    try:
        return int(FeatureStore.open(store).done("spectral").sum())
    except Exception:
        return 0


@pytest.mark.parametrize("kill_after_rows", [0, FEATURE_CHUNK, 2 * FEATURE_CHUNK])
def test_sigkilled_run_resumes_to_the_same_store(corpus_and_reference, tmp_path, kill_after_rows):
    folder, corpus, reference = corpus_and_reference
    store_path = tmp_path / "killed.zarr"
    proc = _start(folder, store_path)
    deadline = time.monotonic() + 60
    while _done_rows(store_path) < kill_after_rows and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed; slow it down"
    written = _done_rows(store_path)
    assert written < N_CLIPS

    store = FeatureStore.create(store_path, corpus)  # the same command again
    embed_corpus(store, "spectral", progress=False)
    np.testing.assert_array_equal(store.done("spectral"), np.ones(N_CLIPS, bool))
    np.testing.assert_array_equal(store.audio("spectral"), reference.audio("spectral"))
    np.testing.assert_array_equal(store.text("spectral"), reference.text("spectral"))
    assert store.items().equals(reference.items())
    np.testing.assert_array_equal(store.ratings().to_numpy(), reference.ratings().to_numpy())
