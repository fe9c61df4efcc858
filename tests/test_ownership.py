"""One recorded rule for what is ours (issue 19, cases 1-7): clapmos replaces or deletes a path only when its
record says clapmos wrote it and it is unchanged; the user's files are compared by sha256 before and after."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.ownership import RECORD, check_replaceable, foreign, record_file, record_folder, refuse_inside
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore
from tests.test_data_safety import embed_args, write_clips


def invoke(*args):
    return CliRunner().invoke(cli.app, [str(a) for a in args])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- the helper itself
def test_a_file_is_ours_only_while_recorded_and_unchanged(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("path,mos,mos_std\n")  # looks like clapmos's output, but clapmos did not write it
    assert foreign(path) == [str(path)]
    record_file(path)
    assert foreign(path) == []
    path.write_text("path,mos,mos_std\nmine.wav,4,0\n")
    assert foreign(path) == [f"{path} (changed since clapmos wrote it)"]
    assert foreign(tmp_path / "absent.csv") == []


def test_a_folder_is_ours_only_while_every_file_in_it_is_recorded_and_unchanged(tmp_path):
    folder = tmp_path / "rep"
    (folder / "sub").mkdir(parents=True)
    (folder / "results.csv").write_text("a\n")
    (folder / "sub" / "plot.png").write_bytes(b"png")
    assert len(foreign(folder)) == 2  # no record: nothing in it is ours
    record_folder(folder, "report")
    assert foreign(folder) == []
    (folder / "CONCLUSIONS.txt").write_text("mine")
    (folder / "sub" / "plot.png").write_bytes(b"edited")
    assert sorted(foreign(folder)) == [str(folder / "CONCLUSIONS.txt"), f"{folder / 'sub' / 'plot.png'} (changed since clapmos wrote it)"]
    with pytest.raises(ClapmosError, match="CONCLUSIONS.txt"):
        check_replaceable([folder], "--out-dir")


def test_paths_inside_a_store_a_run_a_report_or_a_cache_are_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    record_folder(run, "run")
    with pytest.raises(ClapmosError, match="inside the clapmos run") as error:
        refuse_inside(run / "model" / "x.csv")
    assert str(tmp_path / "x.csv") in str(error.value)  # the advice points outside the run
    refuse_inside(tmp_path / "elsewhere" / "x.csv")


# --------------------------------------------------------------------------- cases 1-6 through the CLI
@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A demo store, a ridge run fitted on it and a folder of clips to score (with systems)."""
    from clapmos.embed.corpora.demo import make_demo_corpus

    folder = tmp_path_factory.mktemp("ownership")
    make_demo_corpus(folder / "corpus", n_clips=24, seed=3)
    store = folder / "store.zarr"
    assert invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--out", store).exit_code == 0
    run = folder / "run"
    result = invoke("fit", "--store", store, "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--out", run, "--no-plots")
    assert result.exit_code == 0, result.output
    clips = sorted((folder / "corpus").rglob("*.wav"))[:4]
    return store, run, clips


def test_case_1_score_never_replaces_a_users_listening_test(fitted, tmp_path):
    _, run, clips = fitted
    mine = tmp_path / "my_listening_test.csv"
    mine.write_text("path,mos,mos_std,n_listeners\na.wav,3.2,0.4,12\n")
    before = sha(mine)
    result = invoke("score", *clips, "--model", run, "--out", mine, "--cache", tmp_path / "cache")
    assert result.exit_code == 2 and str(mine) in result.output and sha(mine) == before
    ours = tmp_path / "scores.csv"
    assert invoke("score", *clips, "--model", run, "--out", ours, "--cache", tmp_path / "cache").exit_code == 0
    assert invoke("score", *clips, "--model", run, "--out", ours, "--cache", tmp_path / "cache").exit_code == 0  # its own: replaced
    ours.write_text(ours.read_text() + "# my note\n")  # edited by the user: no longer replaced
    edited = sha(ours)
    result = invoke("score", *clips, "--model", run, "--out", ours, "--cache", tmp_path / "cache")
    assert result.exit_code == 2 and "changed since clapmos wrote it" in result.output and sha(ours) == edited


@pytest.mark.parametrize("content, format", [("id,overall,textual\nS001_P001,3,4\n", "csv"), ("ID,score,score\nS001_P001,3,4\n", "audiomos")])
def test_case_2_predict_never_replaces_a_users_truth_file(fitted, tmp_path, content, format):
    store, run, _ = fitted
    truth = tmp_path / "truth_labels.csv"
    truth.write_text(content)
    before = sha(truth)
    result = invoke("predict", "--model", run, "--store", store, "--format", format, "--split", "dev", "--out", truth)
    assert result.exit_code == 2 and str(truth) in result.output and sha(truth) == before


def test_case_3_evaluate_again_keeps_a_file_the_user_added_to_the_report(fitted, tmp_path):
    store, run, _ = fitted
    answer = tmp_path / "answer.txt"
    assert invoke("predict", "--model", run, "--store", store, "--split", "dev", "--format", "audiomos", "--out", answer).exit_code == 0
    args = ["evaluate", "--pred", answer, "--store", store, "--split", "dev", "--out-dir", tmp_path / "rep", "--no-plots"]
    assert invoke(*args).exit_code == 0 and invoke(*args).exit_code == 0  # its own report: replaced
    notes = tmp_path / "rep" / "CONCLUSIONS.txt"
    notes.write_text("system 3 is best")
    before = tree(tmp_path / "rep")
    result = invoke(*args)
    assert result.exit_code == 2 and str(notes) in result.output
    assert tree(tmp_path / "rep") == before


def test_case_4_refitting_keeps_a_file_the_user_added_to_the_run(fitted, tmp_path):
    store, _, _ = fitted
    run = tmp_path / "run"
    args = ["fit", "--store", store, "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--out", run, "--no-plots"]
    assert invoke(*args).exit_code == 0
    (run / "MY_NOTES.md").write_text("lr sweep notes")
    before = tree(run)
    result = invoke(*args)
    assert result.exit_code == 2 and str(run / "MY_NOTES.md") in result.output and tree(run) == before


def test_case_5_fit_refuses_a_path_inside_a_run_or_a_store_and_its_advice_is_safe(fitted, tmp_path):
    store, _, _ = fitted
    run = tmp_path / "run"
    fit = ["fit", "--store", store, "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--no-plots", "--out"]
    assert invoke(*fit, run).exit_code == 0
    before = tree(run)
    for out in (run / "model", run / "model" / "run", run / "new"):
        result = invoke(*fit, out)
        assert result.exit_code == 2 and "inside the clapmos run" in result.output, result.output
    assert tree(run) == before
    result = invoke(*fit, store)
    assert result.exit_code == 2 and "store.zarr/" not in result.output and "store-run" in result.output
    result = invoke(*fit, store / "run")
    assert result.exit_code == 2 and "inside the clapmos store" in result.output


def test_case_6_outputs_and_caches_inside_a_store_are_refused(fitted, tmp_path):
    store, run, clips = fitted
    before = tree(store)
    for args in (["--out", store / "scores.csv"], ["--out", tmp_path / "s.csv", "--cache", store / "cache"]):
        result = invoke("score", *clips, "--model", run, *args)
        assert result.exit_code == 2 and "inside the clapmos store" in result.output, result.output
    assert tree(store) == before


def test_case_6_a_rebuild_keeps_a_file_or_folder_the_user_put_in_the_store(tmp_path):
    manifest = write_clips(tmp_path / "corpus", ["a", "b", "c"])
    store = tmp_path / "store.zarr"
    assert invoke(*embed_args(manifest, store)).exit_code == 0
    (store / "mine").mkdir()
    (store / "mine" / "scores.csv").write_text("path,mos\n")
    before = tree(store)
    manifest.write_text(manifest.read_text().splitlines()[0] + "\n" + "\n".join(manifest.read_text().splitlines()[1:3]) + "\n")
    result = invoke(*embed_args(manifest, store, "--rebuild"))
    assert result.exit_code == 2 and str(store / "mine" / "scores.csv") in result.output
    assert tree(store) == before


def test_case_7_overwrite_never_drops_frame_tokens_silently(tmp_path):
    manifest = write_clips(tmp_path / "corpus", ["a", "b", "c"])
    store = tmp_path / "store.zarr"
    assert invoke(*embed_args(manifest, store, "--frames")).exit_code == 0
    before = tree(store)
    result = invoke(*embed_args(manifest, store, "--overwrite", "--window-s", "0.02"))
    assert result.exit_code == 2 and "frame tokens" in result.output and "--frames" in result.output
    assert tree(store) == before
    result = invoke(*embed_args(manifest, store, "--overwrite", "--window-s", "0.02", "--frames"))
    assert result.exit_code == 0, result.output
    reopened = FeatureStore.open(store)
    assert reopened.has_frames("spectral") and reopened.embedder_attrs("spectral")["window_s"] == 0.02


def test_frame_dtype_without_frames_is_refused(tmp_path):
    manifest = write_clips(tmp_path / "corpus", ["a"])
    result = invoke(*embed_args(manifest, tmp_path / "s.zarr", "--frame-dtype", "float32"))
    assert result.exit_code == 2 and "--frames" in result.output and not (tmp_path / "s.zarr").exists()


def test_every_output_is_recorded(fitted, tmp_path):
    _, run, clips = fitted
    assert (run / RECORD).is_file() and foreign(run) == []
    out = tmp_path / "scores.jsonl"
    assert invoke("score", *clips, "--model", run, "--out", out, "--cache", tmp_path / "cache").exit_code == 0
    assert foreign(out) == [] and (tmp_path / RECORD).is_file()
