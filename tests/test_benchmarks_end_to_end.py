"""``embed`` → ``fit`` → ``evaluate`` on tiny copies of the SongEval, Audiobox Aesthetics, AudioMOS
Track 2 and preference layouts, each scored with its benchmark's metrics."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from clapmos import cli
from tests.benchmark_layouts import write_audiobox_aes, write_cmi_pref, write_songeval, write_track2

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def embed(corpus, root, out):
    invoke("embed", "--corpus", corpus, "--root", root, "--embedder", "spectral", "--out", out)
    return out


@pytest.fixture(scope="module")
def songeval_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("songeval")
    corpus, _ = write_songeval(folder, n=14, val=(1, 4, 7, 10, 12))
    store = embed("songeval", corpus, folder / "store.zarr")
    invoke("fit", "--store", store, "--embedder", "spectral", "--head", "ridge", "--cv", 2, "--train-split", "train",
           "--eval-split", "val", "--out", folder / "run")
    return store, folder / "run"


def test_songeval_is_scored_with_top_tier_accuracy(songeval_run, tmp_path):
    store, run = songeval_run
    results = pd.read_csv(run / "eval" / "results.csv")
    tta = results[results["metric"] == "TTA"]
    assert set(tta["target"]) == {"coherence", "memorability", "naturalness", "clarity", "musicality", "mean"}
    assert {"LCC", "SRCC", "KTAU", "TTA"} <= set(results[results["target"] == "mean"]["metric"])
    answer = tmp_path / "pred.csv"
    invoke("predict", "--model", run, "--store", store, "--split", "val", "--out", answer)
    shown = invoke("evaluate", "--pred", answer, "--store", store, "--split", "val", "--no-plots").output
    assert "TTA" in shown
    assert json.loads((tmp_path / "pred_eval" / "results.json").read_text())["metrics"] == json.loads((run / "metrics.json").read_text())["eval"]


@pytest.mark.parametrize("corpus, writer, train, held_out", [
    ("audiobox-aes", write_audiobox_aes, "music,pam", "speech"),
    ("audiomos-track2", write_track2, "train", "dev"),
])
def test_audiobox_axes_are_scored_per_axis(tmp_path, corpus, writer, train, held_out):
    root, _ = writer(tmp_path, **({"n": 6} if corpus == "audiobox-aes" else {}))
    store = embed(corpus, root, tmp_path / "store.zarr")
    invoke("fit", "--store", store, "--embedder", "spectral", "--head", "ridge", "--cv", 2, "--train-split", train,
           "--eval-split", held_out, "--out", tmp_path / "run")
    results = pd.read_csv(tmp_path / "run" / "eval" / "results.csv")
    assert set(results["target"]) == {"PQ", "PC", "CE", "CU"}
    assert set(results["metric"]) == {"MSE", "LCC", "SRCC", "KTAU"}


def test_preferences_train_a_head_on_votes_and_a_rating_run_is_scored_on_them(songeval_run, tmp_path):
    root, _ = write_cmi_pref(tmp_path, n_clips=12, n_train=40, n_test=10)
    store = embed("preferences", root, tmp_path / "store.zarr")
    assert "pairwise votes" in invoke("info", store).output
    invoke("fit", "--store", store, "--embedder", "spectral", "--head", "bt", "--cv", 2, "--train-split", "train",
           "--eval-split", "test", "--out", tmp_path / "bt")
    held_out = pd.read_csv(tmp_path / "bt" / "eval" / "results.csv")
    assert set(held_out["level"]) == {"pairwise"} and set(held_out["target"]) == {"musicality", "alignment"}
    assert held_out["value"].between(0, 1).all()
    # a run trained on SongEval's ratings, evaluated on the votes
    pred = tmp_path / "songeval_pred.csv"
    invoke("predict", "--model", songeval_run[1], "--store", store, "--split", "test", "--out", pred)
    invoke("evaluate", "--pred", pred, "--store", store, "--split", "test", "--no-plots")
    results = json.loads((tmp_path / "songeval_pred_eval" / "results.json").read_text())["metrics"]
    assert set(results) == {"pairwise"} and set(results["pairwise"]) == {"musicality", "alignment"}


def test_music_arena_votes_score_a_rating_run_and_give_a_leaderboard(songeval_run, tmp_path):
    from tests.benchmark_layouts import write_music_arena

    root, battles = write_music_arena(tmp_path)
    store = embed("preferences", root, tmp_path / "arena.zarr")
    pred = tmp_path / "arena_pred.csv"
    invoke("predict", "--model", songeval_run[1], "--store", store, "--out", pred)
    shown = invoke("evaluate", "--pred", pred, "--store", store, "--split", "01-2025JULAUG,02-2025SEP", "--no-plots",
                   "--leaderboard", "--min-votes", 1).output
    assert "leaderboard preference" in shown
    results = json.loads((tmp_path / "arena_pred_eval" / "results.json").read_text())["metrics"]["pairwise"]["preference"]
    assert results["N"] == sum(b["preference"] in ("A", "B") for b in battles)  # TIE and BOTH_BAD dropped
    board = pd.read_csv(tmp_path / "arena_pred_eval" / "leaderboard.csv")
    assert set(board["system"]) == {"musicgen", "songgen"}
