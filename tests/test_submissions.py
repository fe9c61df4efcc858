"""Submission files: exact round trips, and validators that list every problem at once."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clapmos.embed.errors import ClapmosError
from clapmos.evaluation import detect_format, read_submission, score, validate_submission, write_submission
from clapmos.evaluation.report import evaluate_file
from clapmos.evaluation.truth import Truth

MUSICEVAL_IDS = [f"audiomos2025-track1-S00{s}_P{p:03d}" for s in range(1, 4) for p in range(1, 5)]
XACLE_IDS = [f"{i:05d}" for i in range(10500, 10512)]


@pytest.fixture
def musiceval_predictions() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"id": MUSICEVAL_IDS, "overall": rng.uniform(1, 5, 12), "textual": rng.uniform(1, 5, 12)})


@pytest.fixture
def xacle_predictions() -> pd.DataFrame:
    return pd.DataFrame({"id": XACLE_IDS, "alignment": np.random.default_rng(1).uniform(0, 10, 12)})


@pytest.mark.parametrize("name", ["answer.txt", "submission.zip"])
def test_audiomos_round_trip_is_exact(musiceval_predictions, tmp_path, name):
    path = write_submission(musiceval_predictions, tmp_path / name, "audiomos", expected_ids=MUSICEVAL_IDS)
    validated = validate_submission(path, MUSICEVAL_IDS)
    pd.testing.assert_frame_equal(validated, musiceval_predictions, check_exact=True)
    pd.testing.assert_frame_equal(read_submission(path), musiceval_predictions, check_exact=True)


def test_audiomos_answer_lines_are_id_overall_textual_without_header_or_wav(musiceval_predictions, tmp_path):
    path = write_submission(musiceval_predictions.iloc[:1], tmp_path / "answer.txt", "audiomos")
    row = musiceval_predictions.iloc[0]
    assert path.read_text() == f"audiomos2025-track1-S001_P001,{row.overall!r},{row.textual!r}\n"


def test_audiomos_zip_holds_answer_txt_at_its_top_level(musiceval_predictions, tmp_path):
    path = write_submission(musiceval_predictions, tmp_path / "anything.zip", "audiomos")
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["answer.txt"]
        assert len(archive.read("answer.txt").decode().splitlines()) == 12


def test_xacle_round_trip_is_exact_and_names_carry_wav(xacle_predictions, tmp_path):
    path = write_submission(xacle_predictions, tmp_path / "xacle.csv", "xacle", expected_ids=XACLE_IDS)
    lines = path.read_text().splitlines()
    assert lines[0] == "wav_file_name,pred_score"
    assert lines[1].startswith("10500.wav,")
    pd.testing.assert_frame_equal(validate_submission(path, XACLE_IDS), xacle_predictions, check_exact=True)


def test_generic_csv_round_trip_keeps_any_targets(tmp_path):
    predictions = pd.DataFrame({"id": ["a", "b"], "quality": [0.1, 0.2], "noise": [3.0, 1e-300]})
    path = write_submission(predictions, tmp_path / "p.csv", "csv")
    assert path.read_text().splitlines()[0] == "id,quality,noise"
    pd.testing.assert_frame_equal(read_submission(path), predictions, check_exact=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_any_finite_float_survives_writing_and_reading_bit_for_bit(tmp_path, values):
    predictions = pd.DataFrame({"id": [f"{i:05d}" for i in range(len(values))], "alignment": values})
    path = write_submission(predictions, tmp_path / "x.csv", "xacle")
    assert read_submission(path)["alignment"].tolist() == [float(v) for v in values]


@pytest.mark.parametrize("name", ["answer.txt", "submission.zip"])
def test_write_validate_read_evaluate_gives_the_numbers_computed_in_memory(musiceval_predictions, tmp_path, name):
    rng = np.random.default_rng(2)
    clips = pd.DataFrame({"id": MUSICEVAL_IDS, "system": [i[20:24] for i in MUSICEVAL_IDS]})
    clips[["overall", "textual"]] = rng.integers(5, 26, size=(12, 2)) / 5
    in_memory = score(clips[["overall", "textual"]], musiceval_predictions[["overall", "textual"]], systems=clips["system"])
    path = write_submission(musiceval_predictions, tmp_path / name, "audiomos", expected_ids=MUSICEVAL_IDS)
    validate_submission(path, MUSICEVAL_IDS)
    report = evaluate_file(path, Truth(clips, ["overall", "textual"], "memory"))
    pd.testing.assert_frame_equal(report.results[in_memory.columns], in_memory, check_exact=True)  # plus bootstrap low, high


def test_validator_reports_every_kind_of_problem_in_one_error(tmp_path):
    path = tmp_path / "answer.txt"
    path.write_text(
        "audiomos2025-track1-S001_P001,3.2,4.0\n"  # line 1, repeated on line 4
        "audiomos2025-track1-S001_P002,3.2\n"  # line 2: two fields
        "audiomos2025-track1-S001_P003,nan,4.0\n"  # line 3: NaN
        "audiomos2025-track1-S001_P001,3.0,4.0\n"  # line 4: duplicate
        "audiomos2025-track1-S009_P001,3.0,inf\n"  # line 5: not in the split, infinite
    )
    expected = MUSICEVAL_IDS[:4]
    with pytest.raises(ClapmosError) as error:
        validate_submission(path, expected)
    message = str(error.value)
    assert message.startswith(f"{path} is not a valid submission: 6 problem(s)")
    assert "line 2: expected 3 fields (ID,OVERALL,TEXTUAL), got 2" in message
    assert "lines 1, 4: id 'audiomos2025-track1-S001_P001' appears 2 times" in message
    assert "line 3 (audiomos2025-track1-S001_P003): OVERALL is nan, not a finite number" in message
    assert "line 5 (audiomos2025-track1-S009_P001): TEXTUAL is inf, not a finite number" in message
    assert "2 expected id(s) missing, e.g. audiomos2025-track1-S001_P002, audiomos2025-track1-S001_P004" in message
    assert "1 id(s) not in the split, e.g. audiomos2025-track1-S009_P001" in message


def test_malformed_lines_are_named_by_file_and_line_when_reading(tmp_path):
    path = tmp_path / "pred.csv"
    path.write_text("wav_file_name,pred_score\n10500.wav,7.5\n10501,6.0\n10502.wav,high\n10503.wav,1,2\n")
    with pytest.raises(ClapmosError) as error:
        read_submission(path)
    message = str(error.value)
    assert message.startswith(f"{path} cannot be read: 3 problem(s)")
    assert "line 3: '10501' must be a file name ending in .wav" in message
    assert "line 4: pred_score value 'high' is not a number" in message
    assert "line 5: expected 2 fields (wav_file_name,pred_score), got 3" in message


def test_reading_keeps_nan_values_for_evaluation_to_count(tmp_path):
    path = tmp_path / "pred.csv"
    path.write_text("wav_file_name,pred_score\n10500.wav,nan\n10501.wav,\n10502.wav,2.5\n")
    assert read_submission(path)["alignment"].isna().tolist() == [True, True, False]


def test_headers_are_required_where_the_format_has_one_and_refused_where_not(tmp_path):
    answer, xacle = tmp_path / "answer.txt", tmp_path / "x.csv"
    answer.write_text("ID,OVERALL,TEXTUAL\naudiomos2025-track1-S001_P001,3.2,4.0\n")
    xacle.write_text("10500.wav,7.5\n")
    with pytest.raises(ClapmosError, match="line 1: audiomos files have no header line"):
        read_submission(answer)
    with pytest.raises(ClapmosError, match="line 1: header must be wav_file_name,pred_score, got 10500.wav,7.5"):
        read_submission(xacle, format="xacle")


def test_xacle_header_spelt_wave_file_name_is_accepted(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("wave_file_name,pred_score\n10500.wav,7.5\n")
    assert read_submission(path).to_dict("list") == {"id": ["10500"], "alignment": [7.5]}


def test_zip_without_answer_txt_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "sub.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("results/answer.txt", "audiomos2025-track1-S001_P001,3.2,4.0\n")
    with pytest.raises(ClapmosError, match="no answer.txt at its top level; found results/answer.txt"):
        validate_submission(path, MUSICEVAL_IDS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(overall=f["overall"].where(f.index != 3)), "row 4: overall is nan"),
        (lambda f: pd.concat([f, f.iloc[[0]]]), "rows 1, 13: id 'audiomos2025-track1-S001_P001' appears 2 times"),
        (lambda f: f.iloc[1:], "1 expected id(s) missing, e.g. audiomos2025-track1-S001_P001"),
        (lambda f: f.drop(columns="textual"), "lack column(s) ['textual']"),
    ],
)
def test_writers_refuse_invalid_submissions_and_write_nothing(musiceval_predictions, tmp_path, change, message):
    path = tmp_path / "answer.txt"
    with pytest.raises(ClapmosError, match=re.escape(message)):
        write_submission(change(musiceval_predictions), path, "audiomos", expected_ids=MUSICEVAL_IDS)
    assert not path.exists()


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("answer.txt", "audiomos2025-track1-S001_P001,3.2,4.0\n", "audiomos"),
        ("x.csv", "wav_file_name,pred_score\n10500.wav,7.5\n", "xacle"),
        ("p.csv", "id,overall\na,3.0\n", "csv"),
    ],
)
def test_format_is_detected_from_content(tmp_path, name, text, expected):
    (tmp_path / name).write_text(text)
    assert detect_format(tmp_path / name) == expected
