"""clapmos never destroys what it did not write and never loses work: one test per way it once could.

Each test names the data-loss path it closes: `embed --overwrite` into a folder of the user's
files, into the corpus, onto a file; an overwrite that fails (bad audio) or is interrupted;
`--overwrite` wiping other embedders; a rebuild from a changed item list; `fit --out` over a
run (stale files) or over something that is not a run; demo, prediction and report outputs
over the user's files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.backends.spectral import SpectralEmbedder
from clapmos.embed.corpora import read_corpus
from clapmos.embed.errors import ClapmosError
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from clapmos.embed.store.schema import FEATURE_CHUNK
from tests.layouts import write_musiceval_phase1, write_wav


class OtherEmbedder(SpectralEmbedder):
    """A second embedder for the store (the spectral features under another name; not registered)."""

    name = "other"


class StoppingEmbedder(SpectralEmbedder):
    """The spectral embedder, interrupted (as by Ctrl-C) after ``blocks`` blocks of rows.

    Its batches are large enough to hold a whole block, so one batch is one block.
    """

    def __init__(self, blocks: int, **options):
        super().__init__(batch_size=10_000, **options)
        self.left = blocks

    def embed_audio(self, windows):
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return super().embed_audio(windows)


def invoke(*args):
    return CliRunner().invoke(cli.app, [str(a) for a in args])


def write_clips(folder: Path, names: list[str]) -> Path:
    """A manifest of one short clip per name (score 1–5) in ``folder``; returns the manifest."""
    rows = []
    for k, name in enumerate(names):
        write_wav(folder / "audio" / f"{name}.wav", seconds=0.05, freq=200.0 + 15 * k)
        rows.append({"path": f"audio/{name}.wav", "text": f"tone {name}", "system": f"S{k % 3}", "mos": 1 + k % 5})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def embed_args(manifest: Path, out: Path, *extra) -> list:
    return ["embed", "--corpus", "manifest", "--root", manifest, "--embedder", "spectral", "--out", out, *extra]


@pytest.fixture
def corpus_and_store(tmp_path):
    """A manifest of 70 clips (two chunks of rows) embedded by `spectral` and by `other`."""
    manifest = write_clips(tmp_path / "corpus", [f"c{k:03d}" for k in range(FEATURE_CHUNK + 6)])
    store_path = tmp_path / "store.zarr"
    assert invoke(*embed_args(manifest, store_path)).exit_code == 0
    embed_corpus(FeatureStore.open(store_path, mode="r+"), OtherEmbedder(), progress=False)
    store = FeatureStore.open(store_path)
    return manifest, store_path, {name: store.paired(name) for name in ("spectral", "other")}


# --------------------------------------------------------------------------- embed --out
def test_overwrite_never_touches_a_folder_of_the_users_files(tmp_path):
    manifest = write_clips(tmp_path / "corpus", ["a", "b", "c"])
    mine = tmp_path / "my-files"
    mine.mkdir()
    (mine / "thesis.tex").write_text("months of work")
    before = snapshot(mine)
    result = invoke(*embed_args(manifest, mine, "--overwrite"))
    assert result.exit_code == 2 and "not a clapmos store" in result.output
    assert snapshot(mine) == before


@pytest.mark.parametrize("where", ["root", "parent"])
def test_the_corpus_root_and_the_folders_above_it_are_never_a_store(tmp_path, where):
    root = write_musiceval_phase1(tmp_path / "data")
    out = root if where == "root" else root.parent
    before = snapshot(tmp_path / "data")
    result = invoke("embed", "--corpus", "musiceval", "--root", root, "--embedder", "spectral", "--out", out, "--overwrite")
    assert result.exit_code == 2 and "not a clapmos store" in result.output and "Traceback" not in result.output
    assert snapshot(tmp_path / "data") == before


def test_a_store_that_holds_the_corpus_is_never_rebuilt(tmp_path):
    store_path = tmp_path / "store.zarr"
    manifest = write_clips(tmp_path / "corpus", ["a", "b"])
    assert invoke(*embed_args(manifest, store_path)).exit_code == 0
    inside = write_clips(store_path / "mine", ["a", "b", "c"])  # the user kept their clips inside the store folder
    before = snapshot(store_path / "mine")
    result = invoke(*embed_args(inside, store_path, "--rebuild"))
    assert result.exit_code == 2 and "holds the corpus itself" in result.output
    assert snapshot(store_path / "mine") == before


def test_out_naming_a_file_is_refused_even_with_overwrite(tmp_path):
    manifest = write_clips(tmp_path / "corpus", ["a"])
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    result = invoke(*embed_args(manifest, notes, "--overwrite"))
    assert result.exit_code == 2 and "is a file" in result.output
    assert notes.read_text() == "keep me"


# --------------------------------------------------------------------------- --overwrite
def test_overwrite_replaces_only_the_named_embedders_features(corpus_and_store):
    manifest, store_path, before = corpus_and_store
    result = invoke(*embed_args(manifest, store_path, "--overwrite", "--window-s", "0.02"))
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(store_path)
    assert store.embedders == ["other", "spectral"]
    np.testing.assert_array_equal(store.paired("other"), before["other"])
    assert store.embedder_attrs("spectral")["window_s"] == 0.02
    assert not np.array_equal(store.paired("spectral"), before["spectral"])
    assert sorted(p.name for p in (store_path / "features").iterdir()) == ["other", "spectral", "zarr.json"]


def test_a_bad_audio_file_found_by_an_overwrite_loses_nothing(corpus_and_store):
    manifest, store_path, before = corpus_and_store
    (manifest.parent / "audio" / "c003.wav").write_bytes(b"not audio any more")
    result = invoke(*embed_args(manifest, store_path, "--overwrite", "--window-s", "0.02"))
    assert result.exit_code == 2 and "c003.wav: unreadable" in result.output
    store = FeatureStore.open(store_path)
    for name, features in before.items():
        np.testing.assert_array_equal(store.paired(name), features)
    assert store.embedder_attrs("spectral")["window_s"] == 10.0


def test_an_interrupted_overwrite_keeps_the_old_features_usable_and_resumes(corpus_and_store):
    manifest, store_path, before = corpus_and_store
    corpus = read_corpus("manifest", manifest)
    with pytest.raises(KeyboardInterrupt):
        embed_corpus(FeatureStore.create(store_path, corpus), StoppingEmbedder(blocks=1), window_s=0.02, overwrite=True, progress=False)
    store = FeatureStore.open(store_path)
    np.testing.assert_array_equal(store.paired("spectral"), before["spectral"])  # fit and predict still read these
    info = invoke("info", store_path)
    assert info.exit_code == 0, info.output
    assert f"replacement of spectral (--overwrite) in progress: {FEATURE_CHUNK}/{FEATURE_CHUNK + 6} rows" in info.output

    counting = StoppingEmbedder(blocks=10**6)
    embed_corpus(FeatureStore.create(store_path, corpus), counting, window_s=0.02, overwrite=True, progress=False)
    assert counting.left == 10**6 - 1  # only the block that was not written yet
    store = FeatureStore.open(store_path)
    assert store.embedder_attrs("spectral")["window_s"] == 0.02 and store.done("spectral").all()
    np.testing.assert_array_equal(store.paired("other"), before["other"])
    reference = FeatureStore.create(store_path.with_name("reference.zarr"), corpus)
    embed_corpus(reference, "spectral", window_s=0.02, progress=False)
    np.testing.assert_array_equal(store.paired("spectral"), reference.paired("spectral"))


def test_an_overwrite_interrupted_between_its_two_renames_is_finished_by_the_next_run(corpus_and_store):
    manifest, store_path, _ = corpus_and_store
    corpus = read_corpus("manifest", manifest)
    store = FeatureStore.create(store_path, corpus)
    key = store.prepare_features("spectral", 128, 128, {"embedder": "spectral", "window_s": 0.5}, overwrite=True)
    for start, stop in store.pending_blocks(key):
        store.write_block(key, start, np.ones((stop - start, 128)), np.ones((stop - start, 128)))
    features = store_path / "features"
    (features / "spectral").rename(features / ".spectral.old")  # the first rename of the swap, then a crash
    again = FeatureStore.open(store_path, mode="r+")
    again.prepare_features("spectral", 128, 128, {"embedder": "spectral", "window_s": 0.5})
    assert again.embedder_attrs("spectral")["window_s"] == 0.5 and again.done("spectral").all()
    assert not (features / ".spectral.old").exists()


# --------------------------------------------------------------------------- --rebuild
def test_rebuild_keeps_the_features_of_unchanged_clips_for_every_embedder(corpus_and_store, tmp_path):
    manifest, store_path, before = corpus_and_store
    names = [f"c{k:03d}" for k in range(FEATURE_CHUNK + 6)]
    changed = write_clips(tmp_path / "changed", names[:40] + ["new1"] + names[41:] + ["new2"])  # c040 replaced, one added
    refused = invoke("embed", "--corpus", "manifest", "--root", changed, "--embedder", "spectral", "--out", store_path)
    assert refused.exit_code == 2 and "--rebuild" in refused.output
    result = invoke("embed", "--corpus", "manifest", "--root", changed, "--embedder", "spectral", "--out", store_path, "--rebuild")
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(store_path)
    ids = store.items()["id"].tolist()
    assert ids == names[:40] + ["new1"] + names[41:] + ["new2"]
    assert store.done("spectral").all()
    done_other = store.done("other")
    # the paths changed with the folder, so only clips with the same id, path and text carry over: none here
    assert not done_other.any()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["changed", "corpus", "store.zarr"]


def test_rebuild_carries_over_rows_whose_clip_did_not_change(corpus_and_store):
    manifest, store_path, before = corpus_and_store
    frame = pd.read_csv(manifest)
    frame.drop(index=3).to_csv(manifest, index=False)  # the user removes one clip
    with pytest.raises(ClapmosError, match="--rebuild"):
        FeatureStore.create(store_path, read_corpus("manifest", manifest))
    counting = StoppingEmbedder(blocks=10**6)
    store = FeatureStore.create(store_path, read_corpus("manifest", manifest), rebuild=True)
    assert FeatureStore.open(store_path).done("spectral").all() and len(FeatureStore.open(store_path)) == len(frame)  # old store untouched
    embed_corpus(store, counting, progress=False)
    store.commit()
    assert counting.left == 10**6  # nothing re-embedded: every remaining clip carried its features over
    rebuilt = FeatureStore.open(store_path)
    keep = np.arange(len(frame)) != 3
    for name in ("spectral", "other"):
        assert rebuilt.done(name).all()
        np.testing.assert_array_equal(rebuilt.paired(name), before[name][keep])


def test_a_failed_rebuild_leaves_the_old_store_as_it_was_and_resumes(corpus_and_store):
    manifest, store_path, before = corpus_and_store
    frame = pd.read_csv(manifest)
    extra = write_clips(manifest.parent / "more", ["x1"])  # writes more/audio/x1.wav
    frame = pd.concat([frame, pd.DataFrame([{"path": "more/audio/x1.wav", "text": "tone x1", "system": "S0", "mos": 3}])])
    frame.to_csv(manifest, index=False)
    extra.unlink()
    store = FeatureStore.create(store_path, read_corpus("manifest", manifest), rebuild=True)
    with pytest.raises(KeyboardInterrupt):
        embed_corpus(store, StoppingEmbedder(blocks=0), progress=False)
    old = FeatureStore.open(store_path)
    assert len(old) == len(frame) - 1
    for name, features in before.items():
        np.testing.assert_array_equal(old.paired(name), features)
    result = invoke(*embed_args(manifest, store_path, "--rebuild"))
    assert result.exit_code == 0, result.output
    assert len(FeatureStore.open(store_path)) == len(frame) and FeatureStore.open(store_path).done("spectral").all()


def test_the_advice_after_a_corrupt_wav_works_when_followed(tmp_path):
    manifest = write_clips(tmp_path / "corpus", ["a", "b", "c", "d"])
    (manifest.parent / "audio" / "b.wav").write_bytes(b"garbage")
    first = invoke(*embed_args(manifest, tmp_path / "s.zarr"))
    assert first.exit_code == 2 and "b.wav: unreadable" in first.output and "remove them and their rows" in first.output
    frame = pd.read_csv(manifest)
    frame[frame["path"] != "audio/b.wav"].to_csv(manifest, index=False)  # as advised
    second = invoke(*embed_args(manifest, tmp_path / "s.zarr"))  # the store has no embedded row yet: nothing to lose
    assert second.exit_code == 0, second.output
    assert FeatureStore.open(tmp_path / "s.zarr").items()["id"].tolist() == ["a", "c", "d"]


# --------------------------------------------------------------------------- fit --out
@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from clapmos.embed.corpora.demo import make_demo_corpus

    folder = tmp_path_factory.mktemp("runs")
    make_demo_corpus(folder / "corpus", n_clips=48, seed=2)
    result = invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--out", folder / "store.zarr")
    assert result.exit_code == 0, result.output
    return folder / "store.zarr"


def fit_args(store: Path, out: Path, *extra) -> list:
    return ["fit", "--store", store, "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--out", out, *extra]


def test_fit_into_an_existing_run_replaces_it_whole(demo_store, tmp_path):
    run = tmp_path / "run"
    assert invoke(*fit_args(demo_store, run, "--eval-split", "dev")).exit_code == 0
    assert (run / "eval" / "results.csv").is_file() and (run / "eval_predictions.csv").is_file()
    assert list((run / "cv").glob("*.png"))
    result = invoke(*fit_args(demo_store, run, "--no-plots", "--target", "overall"))
    assert result.exit_code == 0, result.output
    assert not (run / "eval").exists() and not (run / "eval_predictions.csv").exists()
    assert not list(run.rglob("*.png")) and not (run / "model" / "textual").exists()
    assert json.loads((run / "config.json").read_text())["targets"] == ["overall"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging or old folder left behind


def test_fit_refuses_a_folder_that_is_not_a_run_and_a_file(demo_store, tmp_path):
    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "paper.pdf").write_bytes(b"%PDF")
    notes = tmp_path / "notes.txt"
    notes.write_text("keep")
    for out, message in [(mine, "not a clapmos run"), (notes, "is a file")]:
        result = invoke(*fit_args(demo_store, out))
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert (mine / "paper.pdf").read_bytes() == b"%PDF" and notes.read_text() == "keep"
    assert sorted(p.name for p in mine.iterdir()) == ["paper.pdf"]


def test_a_run_that_fails_while_it_is_written_leaves_the_old_run(demo_store, tmp_path, monkeypatch):
    import clapmos.heads.runs.run

    run = tmp_path / "run"
    assert invoke(*fit_args(demo_store, run)).exit_code == 0
    before = snapshot(run)

    def broken(fitted, folder):
        (folder / "config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(clapmos.heads.runs.run, "write_run_files", broken)
    with pytest.raises(OSError, match="disk full"):
        clapmos.heads.runs.run.save_run(clapmos.heads.runs.run.load_run(run), run)
    assert snapshot(run) == before and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# --------------------------------------------------------------------------- other outputs
def test_make_demo_never_writes_into_a_folder_it_did_not_make(tmp_path):
    mine = write_musiceval_phase1(tmp_path / "real")
    before = snapshot(mine)
    result = invoke("make-demo", mine, "--clips", "24")
    assert result.exit_code == 2 and "not a demo corpus" in result.output
    assert snapshot(mine) == before
    assert invoke("make-demo", tmp_path / "demo", "--clips", "24").exit_code == 0
    assert invoke("make-demo", tmp_path / "demo", "--clips", "24", "--seed", "1").exit_code == 0  # its own: rewritten


def test_predict_and_evaluate_outputs_never_replace_the_users_files(demo_store, tmp_path):
    run = tmp_path / "run"
    assert invoke(*fit_args(demo_store, run)).exit_code == 0
    readme = tmp_path / "README.md"
    readme.write_text("# my notes\n")
    refused = invoke("predict", "--model", run, "--store", demo_store, "--out", readme)
    assert refused.exit_code == 2 and "clapmos did not write these" in refused.output and readme.read_text() == "# my notes\n"
    answer = tmp_path / "answer.txt"
    args = ["predict", "--model", run, "--store", demo_store, "--split", "dev", "--format", "audiomos", "--out", answer]
    assert invoke(*args).exit_code == 0 and invoke(*args).exit_code == 0  # its own file: replaced
    report = tmp_path / "mine"
    report.mkdir()
    (report / "results.csv").write_text("my,own\n")
    result = invoke("evaluate", "--pred", answer, "--store", demo_store, "--split", "dev", "--out-dir", report)
    assert result.exit_code == 2 and "--out-dir" in result.output and (report / "results.csv").read_text() == "my,own\n"


# --------------------------------------------------------------------------- links, moved corpora, interrupted swaps
def test_a_link_as_out_is_refused_and_left_pointing_where_it_did(corpus_and_store, tmp_path):
    manifest, store_path, _ = corpus_and_store
    link = tmp_path / "link.zarr"
    link.symlink_to(store_path)
    for args in (embed_args(manifest, link, "--rebuild"), ["fit", "--store", store_path, "--embedder", "spectral", "--head", "ridge", "--out", link]):
        result = invoke(*args)
        assert result.exit_code == 2 and "is a symbolic link" in result.output, result.output
    assert link.is_symlink() and link.resolve() == store_path.resolve()
    assert not (store_path / ".clapmos-staging").exists() and not (tmp_path / ".link.zarr.old").exists()


def test_a_store_follows_its_corpus_folder_when_it_moves(corpus_and_store, tmp_path):
    manifest, store_path, before = corpus_and_store
    moved = tmp_path / "moved"
    (tmp_path / "corpus").rename(moved)
    result = invoke(*embed_args(moved / "manifest.csv", store_path, "--frames"))  # only the frames are new work
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(store_path)
    assert all(path.startswith(str(moved)) for path in store.items()["path"]) and store.frames_done("spectral").all()
    np.testing.assert_array_equal(store.paired("spectral"), before["spectral"])


def test_rebuild_refuses_to_drop_frame_tokens(corpus_and_store):
    manifest, store_path, _ = corpus_and_store
    assert invoke(*embed_args(manifest, store_path, "--frames")).exit_code == 0
    before = snapshot(store_path)
    fewer = pd.read_csv(manifest).iloc[:-3]
    fewer.to_csv(manifest, index=False)
    result = invoke(*embed_args(manifest, store_path, "--rebuild"))
    assert result.exit_code == 2 and "frame tokens of spectral" in result.output and "another --out" in result.output
    assert snapshot(store_path) == before


def test_a_swap_stopped_between_its_two_renames_is_undone_by_the_next_run(corpus_and_store, tmp_path):
    manifest, store_path, before = corpus_and_store
    aside = tmp_path / ".store.zarr.old"  # what swap_in renamed the store to, before the process stopped
    store_path.rename(aside)
    (aside / ".clapmos-staging").write_text("the replaced version")
    assert invoke(*embed_args(manifest, store_path)).exit_code == 0
    assert not aside.exists()
    np.testing.assert_array_equal(FeatureStore.open(store_path).paired("other"), before["other"])  # not a new, empty store


def test_features_another_tool_wrote_under_the_embedders_name_are_never_deleted(tmp_path):
    manifest = write_clips(tmp_path / "corpus", ["a", "b", "c"])
    store_path = tmp_path / "store.zarr"
    assert invoke(*embed_args(manifest, store_path)).exit_code == 0
    store = FeatureStore.open(store_path, mode="r+")
    foreign = store.group.require_group("features").create_group("theirs")
    foreign.create_array("audio", shape=(3, 2), dtype="float32")[:] = 1.0  # no done mask, no provenance
    result = invoke(*embed_args(manifest, store_path, "--name", "theirs"))
    assert result.exit_code == 2 and "no clapmos provenance" in result.output, result.output
    np.testing.assert_array_equal(FeatureStore.open(store_path).group["features/theirs/audio"][:], np.ones((3, 2)))
