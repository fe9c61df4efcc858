"""SongEval .scp submissions (one per test set; Track 2's score order an option) and the AudioMOS
Track 2 answer layout: written, read back exactly, and validated like the other formats."""

from __future__ import annotations

import pandas as pd
import pytest

from clapmos.embed.errors import ClapmosError
from clapmos.evaluation.submissions import detect_format, read_submission, validate_submission, write_submission

DIMS = ["coherence", "memorability", "naturalness", "clarity", "musicality"]


@pytest.fixture
def predictions():
    return pd.DataFrame({"id": ["song_001", "song_002"], **{d: [1.0 + 0.5 * i, 4.25 - 0.1 * i] for i, d in enumerate(DIMS)}})


def test_track1_scp_is_utt_score(tmp_path, predictions):
    path = write_submission(predictions, tmp_path / "track1_set1_pred.scp", "songeval-track1", expected_ids=["song_001", "song_002"])
    assert path.read_text() == "".join(f"{i} {v!r}\n" for i, v in zip(predictions["id"], predictions["musicality"]))
    assert detect_format(path) == "songeval-track1"
    assert read_submission(path).equals(predictions[["id", "musicality"]])


@pytest.mark.parametrize("format, order", [
    ("songeval-track2", ["coherence", "musicality", "memorability", "clarity", "naturalness"]),  # the baseline's (default)
    ("songeval-track2-site", ["coherence", "memorability", "naturalness", "clarity", "musicality"]),
])
def test_track2_scp_writes_the_five_scores_in_the_chosen_order(tmp_path, predictions, format, order):
    path = write_submission(predictions, tmp_path / "track2_pred.scp", format)
    first = path.read_text().splitlines()[0].split()
    assert first == ["song_001", *(repr(predictions[d].iat[0]) for d in order)]
    back = read_submission(path, format)
    pd.testing.assert_frame_equal(back[["id", *DIMS]], predictions)


def test_scp_validation_names_every_problem(tmp_path):
    path = tmp_path / "track1_set2_pred.scp"
    path.write_text("a 3.1\nb\tx\nc 2.0 1.0\na 4.0\n")
    with pytest.raises(ClapmosError) as error:
        validate_submission(path, ["a", "b", "c", "d"])
    message = str(error.value)
    for expected in ["line 2: score value 'x' is not a number", "line 3: expected 2 fields", "id 'a' appears 2 times", "3 expected id(s) missing, e.g. b, c, d"]:
        assert expected in message


def test_ids_with_whitespace_cannot_be_written_to_scp(tmp_path, predictions):
    with pytest.raises(ClapmosError, match="whitespace"):
        write_submission(predictions.assign(id=["a b", "c"]), tmp_path / "x.scp", "songeval-track1")


def test_audiomos_track2_answer_round_trips(tmp_path):
    frame = pd.DataFrame({"id": ["audiomos2025-track2-sys00001-utt00001"], "PQ": [7.5], "PC": [3.25], "CE": [6.0], "CU": [6.5]})
    path = write_submission(frame, tmp_path / "answer.txt", "audiomos-track2")
    assert path.read_text().splitlines()[0] == "sample_id,PQ,PC,CE,CU"
    assert detect_format(path) == "audiomos-track2"
    assert read_submission(path).equals(frame)
