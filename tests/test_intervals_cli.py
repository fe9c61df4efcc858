"""Intervals and comparisons on the command line: fit's metrics.json, `evaluate --against`, `runs A B`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.corpora.demo import make_demo_corpus
from clapmos.evaluation.fit_report import metrics_with_intervals

runner = CliRunner()


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch):
    for console in (cli.out, cli.err):
        monkeypatch.setattr(console, "width", 10_000)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A demo store and two ridge runs (folds ungrouped, and grouped by system), both scored on dev."""
    folder = tmp_path_factory.mktemp("intervals")
    make_demo_corpus(folder / "corpus", n_clips=48, seed=3)
    assert invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--out", folder / "s.zarr").exit_code == 0
    outputs = {}
    for name, extra in (("ridge", []), ("grouped", ["--group", "system", "--param", "fit_intercept=false"])):
        result = invoke("fit", "--store", folder / "s.zarr", "--embedder", "spectral", "--head", "ridge", "--cv", 2, "--no-plots",
                        "--eval-split", "dev", "--draws", 200, *extra, "--out", folder / "runs" / name)
        assert result.exit_code == 0, result.output
        outputs[name] = result.output
    return folder, outputs


def test_fit_writes_intervals_names_its_splits_and_says_what_each_fold_held_out(fitted):
    folder, outputs = fitted
    metrics = json.loads((folder / "runs" / "grouped" / "metrics.json").read_text())
    assert metrics["splits"] == {"cv": "train (out-of-fold)", "eval": "dev"}
    assert metrics["bootstrap"]["draws"] == 200 and "two-level" in metrics["bootstrap"]["method"]
    for where in ("cv", "eval"):
        for level in ("utterance", "system"):
            entry = metrics[where][level]["overall"]
            low, high = entry["interval"]["SRCC"]
            assert low <= entry["SRCC"] <= high
    folds = metrics["folds"]
    assert folds["group"] == "system" and all(f["systems_held_out"] == f["systems"] for f in folds["folds"])
    ungrouped = json.loads((folder / "runs" / "ridge" / "metrics.json").read_text())["folds"]
    assert ungrouped["group"] == "none" and sum(f["systems_held_out"] for f in ungrouped["folds"]) < sum(f["systems"] for f in ungrouped["folds"])
    assert "folds grouped by system: systems held out whole per fold" in outputs["grouped"]
    assert "[" in outputs["grouped"].split("held-out split dev")[1]  # the printed table shows intervals
    table = metrics_with_intervals(folder / "runs" / "grouped")  # what a model card reads
    srcc = table.query("where == 'eval' and level == 'system' and target == 'overall' and metric == 'SRCC'").iloc[0]
    assert srcc["value"] == metrics["eval"]["system"]["overall"]["SRCC"] and [srcc["low"], srcc["high"]] == metrics["eval"]["system"]["overall"]["interval"]["SRCC"]


def test_evaluate_prints_intervals_compares_against_another_file_and_splits_seen_systems(fitted, tmp_path):
    folder, _ = fitted
    a, b = tmp_path / "a" / "dev.csv", tmp_path / "b" / "dev.csv"
    for run, path in (("ridge", a), ("grouped", b)):
        path.parent.mkdir()
        assert invoke("predict", "--model", folder / "runs" / run, "--store", folder / "s.zarr", "--split", "dev", "--out", path).exit_code == 0
    result = invoke("evaluate", "--pred", a, "--store", folder / "s.zarr", "--split", "dev", "--against", b, "--train-split", "train",
                    "--draws", 300, "--seed", 3, "--out-dir", tmp_path / "report", "--no-plots", "--report")
    assert result.exit_code == 0, result.output
    assert "95% bootstrap intervals (300 draws, seed 3)" in result.output
    row = next(line for line in result.output.splitlines() if line.startswith("| system | overall |"))
    assert row.count("[") == 4  # every metric with its interval
    assert "paired comparison on the same" in result.output and "| utterance | overall | SRCC |" in result.output
    paired = pd.read_csv(tmp_path / "report" / "paired.csv")
    assert set(paired["a"]) == {str(a)} and set(paired["b"]) == {str(b)}  # same file names: whole paths
    srcc = paired.query("level == 'utterance' and target == 'overall' and metric == 'SRCC'").iloc[0]
    assert srcc["low"] <= srcc["difference"] <= srcc["high"] and 0 <= srcc["share_a_ahead"] <= 1
    summary = json.loads((tmp_path / "report" / "results.json").read_text())
    assert summary["bootstrap"]["seed"] == 3 and "interval" in summary["metrics"]["utterance"]["overall"]
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("<audio") == 12 and "prompt: <i>" in page  # 6 worst clips x 2 targets, audio from the store's paths
    seen = pd.read_csv(tmp_path / "report" / "seen_unseen.csv")
    assert set(seen["by"]) <= {"system", "prompt"} and "seen" in set(seen["subset"])


def test_runs_compares_two_runs_clip_by_clip_with_paired_intervals(fitted, tmp_path):
    folder, _ = fitted
    result = invoke("runs", folder / "runs" / "ridge", folder / "runs" / "grouped", "--draws", 200, "--out", tmp_path / "runs.csv", "--no-plots")
    assert result.exit_code == 0, result.output
    assert "paired comparison on the same clips (held-out; 95% intervals, 200 draws, Holm over 1 pair(s))" in result.output
    paired = pd.read_csv(tmp_path / "runs_paired.csv")
    assert len(paired) == 2 * 2 * 4  # levels x targets x metrics, one pair
    assert paired["established"].dtype == bool and paired["p_holm"].equals(paired["p_value"])  # one pair: Holm changes nothing
