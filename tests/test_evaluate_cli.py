"""`python cli.py evaluate`: store or truth files in, the challenge table and a report folder out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.store import FeatureStore
from clapmos.evaluation import score, write_submission

SYSTEMS = [f"S{s:03d}" for s in (2, 3, 5, 8, 9, 11)]


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch):
    """Keep rich from wrapping long messages (and paths) at 80 columns."""
    for console in (cli.out, cli.err):
        monkeypatch.setattr(console, "width", 10_000)


def run(*args: str):
    return CliRunner().invoke(cli.app, ["evaluate", *map(str, args)])


@pytest.fixture
def musiceval(tmp_path):
    """A MusicEval-like corpus (no audio needed): dev truth, a store, and predictions for dev."""
    rng = np.random.default_rng(0)
    ids = [f"audiomos2025-track1-{s}_P{p:03d}" for s in SYSTEMS for p in range(1, 9)]
    items = pd.DataFrame(
        {
            "id": ids,
            "path": [f"/nowhere/{i}.wav" for i in ids],
            "text": ["a calm piano piece"] * len(ids),
            "system": [i[20:24] for i in ids],
            "split": ["train" if p <= 2 else "dev" for p in [int(i[-3:]) for i in ids]],
        }
    )
    quality = np.repeat(rng.normal(size=len(SYSTEMS)), 8)
    labels = pd.DataFrame(
        {t: np.clip(np.round((3 + quality + rng.normal(scale=0.6, size=len(ids))) * 5) / 5, 1, 5) for t in ("overall", "textual")}
    )
    corpus = Corpus("musiceval", items, labels, pd.DataFrame(columns=["item", "listener", "overall", "textual"]), ["overall", "textual"])
    store = FeatureStore.create(tmp_path / "store.zarr", corpus)
    dev = items["split"] == "dev"
    truth = pd.concat([items[dev][["id", "system"]], labels[dev]], axis=1).reset_index(drop=True)
    predictions = truth[["id"]].assign(
        overall=truth["overall"] + rng.normal(scale=0.4, size=len(truth)), textual=truth["textual"] + rng.normal(scale=0.5, size=len(truth))
    )
    answer = write_submission(predictions, tmp_path / "answer.txt", "audiomos", expected_ids=truth["id"])
    mos_list = tmp_path / "dev_mos_list.txt"
    mos_list.write_text("".join(f"{r.id}.wav,{r.overall:.1f},{r.textual:.1f}\n" for r in truth.itertuples()))
    return {"store": store.path, "truth": truth, "predictions": predictions, "answer": answer, "mos_list": mos_list}


def expected_results(musiceval, **kwargs) -> pd.DataFrame:
    truth, predictions = musiceval["truth"], musiceval["predictions"]
    targets = ["overall", "textual"]
    return score(truth[targets], predictions[targets], systems=truth["system"], **kwargs)


def test_store_split_prints_the_table_and_writes_results_plots_and_clip_table(musiceval, tmp_path):
    result = run("--pred", musiceval["answer"], "--store", musiceval["store"], "--split", "dev", "--out-dir", tmp_path / "report")
    assert result.exit_code == 0, result.output
    assert "| level | target | MSE | LCC | SRCC | KTAU | N |" in result.stdout
    assert "| system | textual |" in result.stdout
    assert "[overall] [UTT][ MSE = " in result.stdout
    expected = expected_results(musiceval)
    written = pd.read_csv(tmp_path / "report" / "results.csv")
    assert list(written.columns) == ["level", "target", "metric", "value", "n", "low", "high"]
    np.testing.assert_allclose(written["value"], expected["value"], rtol=0, atol=1e-12)
    finite = written.dropna(subset=["low"])  # every metric has its bootstrap interval around it (MSE can sit at its edge)
    assert len(finite) >= len(written) - 2 and (finite["low"] <= finite["high"]).all()
    for row in expected.itertuples():
        cells = f"| {row.level} | {row.target} |"
        assert cells in result.stdout and f"{row.value:.3f}" in result.stdout.split(cells)[1].splitlines()[0]
    summary = json.loads((tmp_path / "report" / "results.json").read_text())
    assert summary["metrics"]["system"]["overall"]["SRCC"] == pytest.approx(expected.query("level == 'system' and target == 'overall' and metric == 'SRCC'")["value"].item(), abs=1e-12)
    assert summary["clips_scored"] == 36 and summary["truth_clips_without_prediction"] == 0
    clips = pd.read_csv(tmp_path / "report" / "predictions.csv")
    assert list(clips.columns) == ["id", "system", "overall_true", "overall_pred", "textual_true", "textual_pred"]
    pngs = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    assert pngs == ["metrics.png", *(f"scatter_{level}_{t}.png" for level in ("system", "utterance") for t in ("overall", "textual"))]
    assert all((tmp_path / "report" / name).read_bytes()[:4] == b"\x89PNG" for name in pngs)


def test_report_goes_next_to_the_prediction_file_by_default_and_plots_can_be_skipped(musiceval):
    result = run("--pred", musiceval["answer"], "--store", musiceval["store"], "--split", "dev", "--no-plots")
    assert result.exit_code == 0, result.output
    folder = musiceval["answer"].with_name("answer_eval")
    assert (folder / "results.csv").is_file() and not list(folder.glob("*.png"))


def test_musiceval_list_as_truth_gives_the_same_numbers_as_the_store(musiceval, tmp_path):
    from_store = run("--pred", musiceval["answer"], "--store", musiceval["store"], "--split", "dev", "--out-dir", tmp_path / "a", "--no-plots")
    from_list = run("--pred", musiceval["answer"], "--truth", musiceval["mos_list"], "--out-dir", tmp_path / "b", "--no-plots")
    assert from_store.exit_code == 0 and from_list.exit_code == 0, from_list.output
    a, b = pd.read_csv(tmp_path / "a" / "results.csv"), pd.read_csv(tmp_path / "b" / "results.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-12)


def test_given_system_means_drive_the_system_level(musiceval, tmp_path):
    means = pd.DataFrame({"overall": np.linspace(2, 4, 6), "textual": np.linspace(4, 2, 6)}, index=pd.Index(SYSTEMS, name="system"))
    system_file = tmp_path / "system_mos_phase1.csv"
    system_file.write_text("".join(f"{s},{r.overall!r},{r.textual!r}\n" for s, r in means.iterrows()))
    result = run("--pred", musiceval["answer"], "--truth", musiceval["mos_list"], "--system-truth", system_file, "--out-dir", tmp_path / "r", "--no-plots")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "r" / "results.csv")
    np.testing.assert_allclose(written["value"], expected_results(musiceval, system_truth=means)["value"], rtol=0, atol=1e-12)


def test_xacle_average_csv_as_truth_scores_the_utterance_level_only(tmp_path):
    rng = np.random.default_rng(3)
    truth = np.round(rng.uniform(0, 10, 20) * 4) / 4
    ids = [f"{i:05d}" for i in range(7500, 7520)]
    average = tmp_path / "validation_average.csv"
    pd.DataFrame({"wav_file_name": [f"{i}.wav" for i in ids], "text": ["a dog barks, then a car passes"] * 20, "average_score": truth}).to_csv(average, index=False)
    prediction = truth + rng.normal(size=20)
    pred_file = write_submission(pd.DataFrame({"id": ids, "alignment": prediction}), tmp_path / "sub.csv", "xacle")
    result = run("--pred", pred_file, "--truth", average, "--out-dir", tmp_path / "r")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "r" / "results.csv")
    assert set(written["level"]) == {"utterance"}
    np.testing.assert_allclose(written["value"], score(truth, prediction, targets=["alignment"])["value"], rtol=0, atol=1e-12)
    assert sorted(p.name for p in (tmp_path / "r").glob("*.png")) == ["metrics.png", "scatter_utterance_alignment.png"]


def test_partial_predictions_are_scored_on_the_intersection_with_a_warning(musiceval, tmp_path):
    predictions = musiceval["predictions"].iloc[3:]
    predictions = pd.concat([predictions, pd.DataFrame({"id": ["audiomos2025-track1-S099_P001"], "overall": [3.0], "textual": [3.0]})])
    pred = write_submission(predictions, tmp_path / "partial.txt", "audiomos")
    result = run("--pred", pred, "--store", musiceval["store"], "--split", "dev", "--no-plots")
    assert result.exit_code == 0, result.output
    assert "evaluating only the 33 clips present in both" in result.stderr
    assert "3 truth clip(s) have no prediction" in result.stderr
    assert "1 predicted id(s) are not in the truth (e.g. audiomos2025-track1-S099_P001)" in result.stderr
    written = pd.read_csv(tmp_path / "partial_eval" / "results.csv")
    assert set(written.query("level == 'utterance'")["n"]) == {33}


def test_no_common_id_is_an_error_with_exit_code_2(musiceval, tmp_path):
    pred = write_submission(pd.DataFrame({"id": ["x1", "x2"], "overall": [1.0, 2.0], "textual": [1.0, 2.0]}), tmp_path / "answer.txt", "audiomos")
    result = run("--pred", pred, "--store", musiceval["store"], "--split", "dev")
    assert result.exit_code == 2
    assert f"no id of {pred} is in" in result.stderr and "Traceback" not in result.output


def test_malformed_prediction_file_is_reported_by_file_and_line(musiceval, tmp_path):
    pred = tmp_path / "answer.txt"
    pred.write_text(musiceval["answer"].read_text() + "audiomos2025-track1-S002_P003,4.0\n")
    result = run("--pred", pred, "--store", musiceval["store"], "--split", "dev")
    assert result.exit_code == 2
    assert f"{pred} cannot be read: 1 problem(s)" in result.stderr
    assert "line 37: expected 3 fields (ID,OVERALL,TEXTUAL), got 2" in result.stderr


def test_check_requires_a_complete_submission(musiceval, tmp_path):
    pred = write_submission(musiceval["predictions"].iloc[1:], tmp_path / "answer.txt", "audiomos")
    result = run("--pred", pred, "--store", musiceval["store"], "--split", "dev", "--check")
    assert result.exit_code == 2
    assert "1 expected id(s) missing, e.g. audiomos2025-track1-S002_P003" in result.stderr


@pytest.mark.parametrize(
    ("truth_name", "truth_text", "pred_format", "ids"),
    [
        ("test.csv", "wav_file_name,text\n10500.wav,rain\n10501.wav,\"wind, then rain\"\n", "xacle", ["10500", "10501"]),
        ("eval_list.txt", "audiomos2025-track1-S001_P007\naudiomos2025-track1-S002_P001\n", "audiomos", ["audiomos2025-track1-S001_P007", "audiomos2025-track1-S002_P001"]),
    ],
)
def test_check_alone_validates_a_submission_for_an_unlabelled_split(tmp_path, truth_name, truth_text, pred_format, ids):
    truth = tmp_path / truth_name
    truth.write_text(truth_text)
    targets = ["alignment"] if pred_format == "xacle" else ["overall", "textual"]
    pred = write_submission(pd.DataFrame({"id": ids, **{t: [4.0, 6.5] for t in targets}}), tmp_path / "sub.txt", pred_format)
    checked = run("--pred", pred, "--truth", truth, "--check")
    assert checked.exit_code == 0, checked.output
    assert "is a valid submission for the 2 clips" in checked.stdout
    unchecked = run("--pred", pred, "--truth", truth)
    assert unchecked.exit_code == 2 and "has no known scores" in unchecked.stderr


@pytest.mark.parametrize("args", [[], ["--store", "s.zarr"], ["--truth", "t.txt", "--store", "s.zarr", "--split", "dev"]])
def test_truth_must_be_a_store_split_or_a_file(args, tmp_path):
    for name in ("answer.txt", "t.txt"):
        (tmp_path / name).write_text("audiomos2025-track1-S002_P001,3.0,3.0\n")
    result = run("--pred", tmp_path / "answer.txt", *[str(tmp_path / a) if a.endswith((".txt", ".zarr")) else a for a in args])
    assert result.exit_code == 2
    assert "give either --store with --split, or --truth" in result.stderr
