"""Your own encoder as a plugin: a class in a file (``--embedder file.py:Class``) or an installed entry point.

The plugin file is written here; it follows the ``Embedder`` contract with numpy alone.
It gets what the built-in embedders get: the CLI writes it into the store with its
source and file hash, a SIGKILLed run resumes to the same store, and the Dask engine
(whose workers import the file themselves) writes the same numbers as the serial one.
A class that breaks the contract is refused before any audio is read (the corpus of
the refusal tests holds a broken wav file, which would otherwise be reported first).
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import LocalCluster
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.audio import load_audio
from clapmos.embed.backends import available_embedders, create_embedder, get_embedder_class
from clapmos.embed.engines.distributed import embed_corpus_dask
from clapmos.embed.errors import ClapmosError
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from clapmos.embed.store.schema import FEATURE_CHUNK
from clapmos.heads.runs.run import load_run
from tests.conftest import make_corpus
from tests.layouts import write_manifest

PLUGIN = '''
import os, time
import numpy as np
from clapmos.embed.backends import Embedder


class ToneStats(Embedder):
    """Four statistics of each window, three of each text."""

    name = "tone-stats"
    sample_rate = 8000
    audio_dim = 4
    text_dim = 3

    def embed_audio(self, windows):
        if os.environ.get("TONE_PROGRESS"):  # for the SIGKILL test: slow, and one byte per batch
            time.sleep(0.04 * len(windows))
            with open(os.environ["TONE_PROGRESS"], "a") as progress:
                progress.write("b")
        return np.array([[w.mean(), w.std(), np.abs(w).max(), len(w) / self.sample_rate] for w in windows], dtype=np.float32)

    def embed_text(self, texts):
        return np.array([[len(t), t.count(" "), sum(map(ord, t)) % 97] for t in texts], dtype=np.float32)


class ToneAudioOnly(ToneStats):
    name = "tone-audio"
    text_dim = 0
    embed_text = Embedder.embed_text


class WrongDimension(ToneStats):
    name = "wrong-dimension"

    def embed_audio(self, windows):
        return super().embed_audio(windows)[:, :3]


class NotFinite(ToneStats):
    name = "not-finite"

    def embed_text(self, texts):
        return np.full((len(texts), 3), np.nan, dtype=np.float32)


class WrongBatchLength(ToneStats):
    name = "wrong-batch"

    def embed_audio(self, windows):
        return super().embed_audio(windows)[:-1]


class FailsToLoad(ToneStats):
    name = "fails-to-load"

    def load(self):
        raise RuntimeError("weights.bin is truncated")


class TakesABuiltinName(ToneStats):
    name = "clap"


class NoAudio(Embedder):
    name, sample_rate, audio_dim, text_dim = "no-audio", 8000, 4, 0


class NotAnEmbedder:
    name = "plain"
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plugin") / "tone_plugin.py"
    path.write_text(PLUGIN)
    return path


def embed(root: Path, out: Path, embedder: str, *options: str):
    args = ["embed", "--corpus", "manifest", "--root", str(root), "--embedder", embedder, "--out", str(out), *options]
    return CliRunner().invoke(cli.app, args)


def expected_audio(store: FeatureStore, plugin: Path) -> np.ndarray:
    """Each clip read at 8 kHz is one window (the clips are shorter than 10 s): the class's own numbers."""
    model = get_embedder_class(f"{plugin}:ToneStats")()
    return np.concatenate([model.embed_audio([load_audio(p, 8000)]) for p in store.items()["path"]])


# --------------------------------------------------------------------------- a plugin file
def test_a_plugin_file_is_embedded_by_the_cli_with_its_source_and_hash(plugin, tmp_path):
    root = write_manifest(tmp_path / "data")
    result = embed(root, tmp_path / "s.zarr", f"{plugin}:ToneStats")
    assert result.exit_code == 0, result.output
    assert "wrote tone-stats features" in result.output
    store = FeatureStore.open(tmp_path / "s.zarr")
    np.testing.assert_allclose(store.audio("tone-stats"), expected_audio(store, plugin), rtol=1e-6)
    texts = store.items()["text"].tolist()
    np.testing.assert_array_equal(store.text("tone-stats"), get_embedder_class(f"{plugin}:ToneStats")().embed_text(texts))
    attrs = store.embedder_attrs("tone-stats")
    assert attrs["plugin"] == "tone_plugin.py:ToneStats"
    assert attrs["plugin_sha256"] == hashlib.sha256(plugin.read_bytes()).hexdigest()
    assert (attrs["sample_rate"], attrs["audio_dim"], attrs["text_dim"]) == (8000, 4, 3)


def test_an_edited_plugin_file_makes_its_features_stale(plugin, tmp_path):
    root = write_manifest(tmp_path / "data")
    assert embed(root, tmp_path / "s.zarr", f"{plugin}:ToneStats").exit_code == 0
    edited = tmp_path / "tone_plugin.py"
    edited.write_text(PLUGIN + "\n# tuned\n")
    result = embed(root, tmp_path / "s.zarr", f"{edited}:ToneStats")
    assert result.exit_code == 2 and "plugin_sha256" in result.output and "--overwrite" in result.output


def test_an_audio_only_plugin_writes_no_text(plugin, tmp_path):
    root = write_manifest(tmp_path / "data")
    assert embed(root, tmp_path / "s.zarr", f"{plugin}:ToneAudioOnly").exit_code == 0
    store = FeatureStore.open(tmp_path / "s.zarr")
    assert store.audio("tone-audio").shape == (len(store), 4) and not store.has_text("tone-audio")


def test_an_audio_only_plugin_is_fitted_together_with_spectral_and_predicts(plugin, tmp_path):
    """Fusion: the plugin's audio block beside spectral's audio, text and cosine; predict checks both embedders."""
    root = write_manifest(tmp_path / "data")
    assert embed(root, tmp_path / "s.zarr", f"{plugin}:ToneAudioOnly").exit_code == 0
    assert embed(root, tmp_path / "s.zarr", "spectral").exit_code == 0
    fitted = CliRunner().invoke(cli.app, ["fit", "--store", str(tmp_path / "s.zarr"), "--embedder", "tone-audio,spectral",
                                          "--head", "ridge", "--cv", "2", "--no-plots", "--out", str(tmp_path / "run")])
    assert fitted.exit_code == 0, fitted.output
    features = load_run(tmp_path / "run").models["mos"].models_["ridge"][0].named_steps["features"]
    assert features.layout_ == (("tone-audio", 4, 0), ("spectral", 128, 128))
    assert features.get_feature_names_out()[:4].tolist() == [f"tone-audio.audio_{i}" for i in range(4)]
    predicted = CliRunner().invoke(cli.app, ["predict", "--model", str(tmp_path / "run"), "--store", str(tmp_path / "s.zarr"),
                                             "--out", str(tmp_path / "p.csv")])
    assert predicted.exit_code == 0, predicted.output
    # `score` rebuilds the plugin from what the store recorded (its file, options), checked by its hash
    items = FeatureStore.open(tmp_path / "s.zarr").items()
    items[["id", "path", "text"]].to_json(tmp_path / "inputs.jsonl", orient="records", lines=True)
    scored = CliRunner().invoke(cli.app, ["score", "--model", str(tmp_path / "run"), str(tmp_path / "inputs.jsonl"),
                                          "--out", str(tmp_path / "scores.csv"), "--no-plots"])
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(tmp_path / "scores.csv", dtype={"id": str}).set_index("id")
    expected = pd.read_csv(tmp_path / "p.csv", dtype={"id": str}).set_index("id")
    np.testing.assert_allclose(scores.loc[expected.index, "mos"], expected["mos"], rtol=1e-5)
    alone = CliRunner().invoke(cli.app, ["fit", "--store", str(tmp_path / "s.zarr"), "--embedder", "tone-audio", "--head", "ridge",
                                         "--features", "audio,text", "--out", str(tmp_path / "run2")])
    assert alone.exit_code == 2 and "need text" in alone.output and "audio-only" in alone.output


# --------------------------------------------------------------------------- refusals
@pytest.fixture
def broken_corpus(tmp_path) -> Path:
    root = write_manifest(tmp_path / "data")
    first = next(p for p in (tmp_path / "data").rglob("*.wav"))
    first.write_bytes(b"RIFF not really a wav file")
    return root


@pytest.mark.parametrize(
    "spec, fragments",
    [
        ("missing.py:ToneStats", ["missing.py does not exist"]),
        ("{plugin}:Nope", ["defines no class 'Nope'", "ToneStats"]),
        ("{plugin}:NotAnEmbedder", ["is not a subclass of clapmos.embed.backends.Embedder"]),
        ("{plugin}:NoAudio", ["breaks the Embedder contract", "does not implement embed_audio"]),
        ("{plugin}:TakesABuiltinName", ["'clap' is taken by the built-in embedder"]),
        ("{plugin}:FailsToLoad", ["load() failed: RuntimeError: weights.bin is truncated"]),
        ("{plugin}:WrongDimension", ["embed_audio returned an array of shape (3, 3) for a batch of 3 windows", "(3, 4)"]),
        ("{plugin}:WrongBatchLength", ["shape (2, 4) for a batch of 3 windows"]),
        ("{plugin}:NotFinite", ["embed_text returned NaN or infinite values for 2 of 2 texts"]),
    ],
)
def test_a_plugin_breaking_the_contract_is_refused_before_any_audio_is_read(plugin, broken_corpus, tmp_path, spec, fragments):
    spec = spec.format(plugin=plugin)
    result = embed(broken_corpus, tmp_path / "s.zarr", spec)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert spec.rpartition(":")[0] in text or "missing.py" in text  # names the file
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {result.output}"
    assert "cannot be used" not in text and "Traceback" not in text  # no audio file was looked at
    assert not (tmp_path / "s.zarr").exists() or FeatureStore.open(tmp_path / "s.zarr").embedders == []


# --------------------------------------------------------------------------- an installed package's entry point
@pytest.fixture
def installed_plugin(tmp_path, monkeypatch, plugin) -> str:
    """A distribution on sys.path declaring ``tone-stats`` in the group ``clapmos.embedders``."""
    site = tmp_path / "site"
    (site / "clapmos_tone_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "clapmos_tone_plugin.py").write_text(PLUGIN)
    (site / "clapmos_tone_plugin-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: clapmos-tone-plugin\nVersion: 0.1\n")
    (site / "clapmos_tone_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[clapmos.embedders]\ntone-stats = clapmos_tone_plugin:ToneStats\nbroken = clapmos_tone_plugin:Missing\n"
    )
    monkeypatch.syspath_prepend(str(site))
    yield "tone-stats"
    sys.modules.pop("clapmos_tone_plugin", None)


def test_an_entry_point_plugin_is_listed_and_embedded_by_name(installed_plugin, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert "tone-stats" in available_embedders() and "broken" not in available_embedders()
    assert "entry point 'broken'" in caplog.text  # a broken entry point is skipped with a warning
    listed = CliRunner().invoke(cli.app, ["info", "--embedders"])
    assert "tone-stats" in listed.output and "8000 Hz" in listed.output
    root = write_manifest(tmp_path / "data")
    result = embed(root, tmp_path / "s.zarr", "tone-stats")
    assert result.exit_code == 0, result.output
    attrs = FeatureStore.open(tmp_path / "s.zarr").embedder_attrs("tone-stats")
    assert attrs["plugin_package"] == "clapmos-tone-plugin==0.1" and len(attrs["plugin_sha256"]) == 64
    with pytest.raises(ClapmosError, match="entry point 'broken'.*importing it failed"):
        get_embedder_class("broken")


# --------------------------------------------------------------------------- resume and Dask
N_CLIPS = 3 * FEATURE_CHUNK + 10
RUN = textwrap.dedent(
    """
    import pickle, sys
    from clapmos.embed.engines.runner import embed_corpus
    from clapmos.embed.store import FeatureStore
    corpus = pickle.load(open(sys.argv[1], "rb"))
    embed_corpus(FeatureStore.create(sys.argv[2], corpus), sys.argv[3], options={"batch_size": 8}, progress=False)
    """
)


@pytest.fixture(scope="module")
def corpus_and_reference(tmp_path_factory, plugin):
    import pickle

    folder = tmp_path_factory.mktemp("plugin_corpus")
    corpus = make_corpus(folder / "audio", n=N_CLIPS, seconds=0.05, sample_rate=16000)
    reference = FeatureStore.create(folder / "reference.zarr", corpus)
    embed_corpus(reference, f"{plugin}:ToneStats", options={"batch_size": 8}, progress=False)
    with open(folder / "corpus.pkl", "wb") as fh:
        pickle.dump(corpus, fh)
    return folder, corpus, reference


def assert_same(store: FeatureStore, reference: FeatureStore) -> None:
    for read in (FeatureStore.done, FeatureStore.audio, FeatureStore.text):
        np.testing.assert_array_equal(read(store, "tone-stats"), read(reference, "tone-stats"))


def test_a_sigkilled_plugin_run_resumes_to_the_same_store(corpus_and_reference, plugin, tmp_path):
    folder, corpus, reference = corpus_and_reference
    progress = tmp_path / "progress.txt"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "TONE_PROGRESS": str(progress)}
    args = [sys.executable, "-c", RUN, str(folder / "corpus.pkl"), str(tmp_path / "killed.zarr"), f"{plugin}:ToneStats"]
    proc = subprocess.Popen(args, env=env)
    deadline = time.monotonic() + 120
    while (len(progress.read_text()) if progress.exists() else 0) < 12 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    written = int(FeatureStore.open(tmp_path / "killed.zarr").done("tone-stats").sum())
    assert FEATURE_CHUNK <= written < N_CLIPS and written % FEATURE_CHUNK == 0
    store = FeatureStore.create(tmp_path / "killed.zarr", corpus)  # the same command again
    embed_corpus(store, f"{plugin}:ToneStats", options={"batch_size": 8}, progress=False)
    assert_same(store, reference)


@pytest.fixture(scope="module")
def scheduler():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, silence_logs=logging.ERROR, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("given", ["spec", "instance"])
def test_the_dask_engine_imports_the_plugin_file_on_its_workers(corpus_and_reference, plugin, scheduler, tmp_path, given):
    _, corpus, reference = corpus_and_reference
    store = FeatureStore.create(tmp_path / "dask.zarr", corpus)
    spec = f"{plugin}:ToneStats"
    embedder = spec if given == "spec" else create_embedder(spec, batch_size=8)
    embed_corpus_dask(store, embedder, options={"batch_size": 8}, scheduler=scheduler, chunks_per_task=1, progress=False)
    assert_same(FeatureStore.open(tmp_path / "dask.zarr"), reference)
    assert store.embedder_attrs("tone-stats")["plugin_sha256"] == reference.embedder_attrs("tone-stats")["plugin_sha256"]


def test_a_run_stays_usable_when_its_plugin_file_moves(plugin, tmp_path):
    """Issue 19: `score --plugin` says where the plugin file is now; a changed file is refused by its sha256."""
    import shutil

    root = write_manifest(tmp_path / "data")
    moving = tmp_path / "plugins" / "tone.py"
    moving.parent.mkdir()
    shutil.copy(plugin, moving)
    assert embed(root, tmp_path / "s.zarr", f"{moving}:ToneAudioOnly").exit_code == 0
    assert embed(root, tmp_path / "s.zarr", "spectral").exit_code == 0
    fitted = CliRunner().invoke(cli.app, ["fit", "--store", str(tmp_path / "s.zarr"), "--embedder", "tone-audio,spectral",
                                          "--head", "ridge", "--cv", "2", "--no-plots", "--out", str(tmp_path / "run")])
    assert fitted.exit_code == 0, fitted.output
    items = FeatureStore.open(tmp_path / "s.zarr").items()
    items[["id", "path", "text"]].to_json(tmp_path / "inputs.jsonl", orient="records", lines=True)
    moved = tmp_path / "elsewhere" / "tone.py"
    moved.parent.mkdir()
    moving.rename(moved)
    score = ["score", "--model", str(tmp_path / "run"), str(tmp_path / "inputs.jsonl"), "--no-plots", "--cache"]
    lost = CliRunner().invoke(cli.app, [*score, str(tmp_path / "c1"), "--out", str(tmp_path / "a.csv")])
    assert lost.exit_code == 2 and str(moving) in lost.output
    found = CliRunner().invoke(cli.app, [*score, str(tmp_path / "c2"), "--out", str(tmp_path / "b.csv"), "--plugin", f"tone-audio={moved}"])
    assert found.exit_code == 0, found.output
    moved.write_text(moved.read_text() + "\n# edited\n")
    edited = CliRunner().invoke(cli.app, [*score, str(tmp_path / "c3"), "--out", str(tmp_path / "c.csv"), "--plugin", f"tone-audio={moved}"])
    assert edited.exit_code == 2 and "plugin_sha256" in edited.output


LATE_NAN_PLUGIN = '''
import numpy as np
from clapmos.embed.backends import Embedder


class LateNaN(Embedder):
    """Fine on the contract's probe (its first batch), NaN on the corpus's audio."""

    name = "late-nan"
    sample_rate = 8000
    audio_dim = 2
    text_dim = 0
    calls = 0

    def embed_audio(self, windows):
        LateNaN.calls += 1
        value = 0.0 if LateNaN.calls == 1 else np.nan
        return np.full((len(windows), 2), value, dtype=np.float32)
'''


def test_a_plugin_returning_nan_is_blamed_not_the_audio(tmp_path):
    """Issue 19: the audio is checked finite before embedding, so NaN embeddings are the plugin's fault, and the message says so."""
    root = write_manifest(tmp_path / "data")
    path = tmp_path / "late_nan.py"
    path.write_text(LATE_NAN_PLUGIN)
    result = embed(root, tmp_path / "s.zarr", f"{path}:LateNaN")
    assert result.exit_code == 2, result.output
    assert "late_nan.py:LateNaN" in result.output and "the fault is the plugin's" in result.output
    assert "check the audio" not in result.output
