"""An embed run killed with SIGKILL at any point resumes and ends with the same store as one clean run (frame tokens too)."""

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

from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from clapmos.embed.store.schema import FEATURE_CHUNK
from tests.conftest import make_corpus

N_CLIPS = 3 * FEATURE_CHUNK + 10  # four blocks, the last one partial

SLOW_EMBED = textwrap.dedent(
    """
    import pickle, sys, time
    from clapmos.embed.backends.spectral import SpectralEmbedder
    from clapmos.embed.engines.runner import embed_corpus
    from clapmos.embed.store import FeatureStore

    class SlowSpectral(SpectralEmbedder):
        def slow_down(self, windows):
            time.sleep(0.04 * len(windows))  # 0.3 s per batch: room to kill mid-run
            with open(sys.argv[3], "a") as progress:  # one byte per batch, for the test to time its kill
                progress.write("b")

        def embed_audio(self, windows):
            self.slow_down(windows)
            return super().embed_audio(windows)

        def embed_frames(self, windows):
            self.slow_down(windows)
            return super().embed_frames(windows)

    corpus = pickle.load(open(sys.argv[1], "rb"))
    store = FeatureStore.create(sys.argv[2], corpus)
    embed_corpus(store, SlowSpectral(batch_size=8), progress=False, frames=sys.argv[4] == "frames")
    """
)


@pytest.fixture(scope="module")
def corpus_and_reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    corpus = make_corpus(folder / "audio", n=N_CLIPS, seconds=0.05, sample_rate=16000)
    reference = FeatureStore.create(folder / "reference.zarr", corpus)
    embed_corpus(reference, "spectral", progress=False, frames=True)
    with open(folder / "corpus.pkl", "wb") as fh:
        pickle.dump(corpus, fh)
    return folder, corpus, reference


def _start(folder: Path, store: Path, progress: Path, frames: bool) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    mode = "frames" if frames else "vectors"
    return subprocess.Popen([sys.executable, "-c", SLOW_EMBED, str(folder / "corpus.pkl"), str(store), str(progress), mode], env=env)


def _batches(progress: Path) -> int:
    return len(progress.read_text()) if progress.exists() else 0


# Batches of 8 clips, 8 per block: kill before any block, inside the second, inside the third.
# Each kill point runs with vectors and with frames; two of the six (10 s each) run with `make test-slow` only.
@pytest.mark.parametrize(("kill_after_batches", "frames"), [
    pytest.param(0, False, id="0-vectors"), pytest.param(0, True, id="0-frames"),
    pytest.param(12, False, id="12-vectors", marks=pytest.mark.slow), pytest.param(12, True, id="12-frames"),
    pytest.param(20, False, id="20-vectors"), pytest.param(20, True, id="20-frames", marks=pytest.mark.slow),
])
def test_sigkilled_run_resumes_to_the_same_store(corpus_and_reference, tmp_path, kill_after_batches, frames):
    folder, corpus, reference = corpus_and_reference
    store_path, progress = tmp_path / "killed.zarr", tmp_path / "progress.txt"
    proc = _start(folder, store_path, progress, frames)
    deadline = time.monotonic() + 120
    while _batches(progress) < kill_after_batches and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed; slow it down"
    written = int(FeatureStore.open(store_path).done("spectral").sum()) if kill_after_batches else 0
    assert FEATURE_CHUNK * (kill_after_batches // 8) <= written < N_CLIPS
    assert written % FEATURE_CHUNK == 0  # only whole blocks are ever marked done
    if frames and kill_after_batches:
        np.testing.assert_array_equal(FeatureStore.open(store_path).frames_done("spectral"), FeatureStore.open(store_path).done("spectral"))

    store = FeatureStore.create(store_path, corpus)  # the same command again
    embed_corpus(store, "spectral", progress=False, frames=frames)
    np.testing.assert_array_equal(store.done("spectral"), np.ones(N_CLIPS, bool))
    np.testing.assert_array_equal(store.audio("spectral"), reference.audio("spectral"))
    np.testing.assert_array_equal(store.text("spectral"), reference.text("spectral"))
    if frames:
        for name in ("values", "time", "start", "length", "done"):
            key = f"features/spectral/frames/{name}"
            np.testing.assert_array_equal(store.group[key][:], reference.group[key][:], err_msg=name)
    assert store.items().equals(reference.items())
    np.testing.assert_array_equal(store.ratings().to_numpy(), reference.ratings().to_numpy())
