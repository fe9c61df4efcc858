"""`cli.py runs`: run folders side by side, sorted by a metric; old runs without metrics.json still compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.corpora.demo import make_demo_corpus
from clapmos.evaluation.run_comparison import compare_runs

runner = CliRunner()
OLD_RUN = Path(__file__).resolve().parent / "data" / "run_v0_1"


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def runs_folder(tmp_path_factory):
    """runs/ridge (held-out dev), runs/grouped (folds by system), runs/lgbm (no held-out split) on one demo store."""
    folder = tmp_path_factory.mktemp("runs")
    make_demo_corpus(folder / "corpus", n_clips=48, seed=3)
    assert invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--out", folder / "s.zarr").exit_code == 0
    base = ["fit", "--store", folder / "s.zarr", "--embedder", "spectral", "--cv", 2, "--no-plots"]
    for name, extra in (("ridge", ["--head", "ridge", "--eval-split", "dev"]), ("grouped", ["--head", "ridge", "--eval-split", "dev", "--group", "system"]),
                        ("lgbm", ["--head", "lgbm", "--param", "n_estimators=20", "--target", "overall"])):
        result = invoke(*base, *extra, "--out", folder / "runs" / name)
        assert result.exit_code == 0, result.output
    return folder / "runs"


def metric(run: Path, where: str, level: str, name: str, target: str) -> float | None:
    return json.loads((run / "metrics.json").read_text())[where][level][target][name]


def test_runs_are_sorted_by_held_out_system_srcc_of_the_first_target_by_default(runs_folder):
    comparison = compare_runs([runs_folder])
    assert comparison.sort == "held-out.system.SRCC.overall"
    values = comparison.table["held-out.system.SRCC.overall"]
    assert values.iloc[:2].is_monotonic_decreasing and values.isna().tolist() == [False, False, True]  # no held-out split: last
    ridge = comparison.table.set_index("run").loc[str(runs_folder / "ridge")]
    assert ridge["oof.utterance.MSE.overall"] == metric(runs_folder / "ridge", "cv", "utterance", "MSE", "overall")
    assert ridge["held-out.system.KTAU.textual"] == metric(runs_folder / "ridge", "eval", "system", "KTAU", "textual")
    assert {"group", "eval_split", "targets", "param:n_estimators"} <= set(comparison.settings)
    assert "cv" not in comparison.settings  # the same in every run


def test_another_sort_metric_and_lower_is_better_for_mse(runs_folder):
    comparison = compare_runs([runs_folder / "lgbm", runs_folder / "ridge", runs_folder / "grouped"], sort="oof.utterance.MSE.overall")
    assert comparison.table["oof.utterance.MSE.overall"].is_monotonic_increasing


def test_the_command_prints_the_table_and_writes_csv_markdown_and_a_plot(runs_folder, tmp_path):
    result = invoke("runs", runs_folder, OLD_RUN, "--out", tmp_path / "runs.csv")
    assert result.exit_code == 0, result.output
    assert "4 run(s), best first by held-out.system.SRCC.overall" in result.output
    assert "| run | heads | embedders | features |" in result.output and "ridge+lgbm+spo_mlp" in result.output
    table = pd.read_csv(tmp_path / "runs.csv")
    assert len(table) == 4 and table["run"].iloc[0].endswith(("ridge", "grouped"))
    old = table.set_index("heads").loc["ridge+lgbm+spo_mlp"]
    assert 0.5 < old["oof.system.SRCC.overall"] <= 1.0  # recomputed from oof_predictions.csv (the run has no metrics.json)
    assert (tmp_path / "runs.md").read_text().startswith("| run | heads |")
    assert (tmp_path / "runs.png").read_bytes().startswith(b"\x89PNG")
    again = invoke("runs", runs_folder, "--out", tmp_path / "runs.csv")  # its own files are replaced
    assert again.exit_code == 0 and len(pd.read_csv(tmp_path / "runs.csv")) == 3


def test_bad_folders_and_metrics_are_one_message(runs_folder, tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke("runs", runs_folder / "ridge", tmp_path / "empty")
    assert result.exit_code == 2 and "no run folder (with config.json)" in result.output and "empty" in result.output
    result = invoke("runs", runs_folder, "--sort", "held-out.system.SRCC.nothing")
    assert result.exit_code == 2 and "no run has that metric" in result.output and "TARGET one of overall, textual" in result.output
    shutil.copytree(runs_folder / "ridge", tmp_path / "odd")
    (tmp_path / "odd" / "config.json").write_text('["not", "a", "config"]')
    result = invoke("runs", tmp_path / "odd")
    assert result.exit_code == 2 and "incompatible clapmos version" in result.output
    (tmp_path / "table.csv").write_text("mine\n")
    result = invoke("runs", runs_folder, "--out", tmp_path / "table.csv")
    assert result.exit_code == 2 and "clapmos did not write these" in result.output and (tmp_path / "table.csv").read_text() == "mine\n"
