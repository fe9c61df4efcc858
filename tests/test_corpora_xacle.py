"""The XACLE reader on tiny copies of the release layout."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from clapmos.embed.corpora import read_corpus
from clapmos.embed.errors import ClapmosError
from tests.layouts import write_xacle


@pytest.fixture
def xacle(tmp_path: Path) -> Path:
    return write_xacle(tmp_path)


def rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def write_rows(path: Path, content: list[list]) -> None:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(content)


def test_reads_train_validation_and_test_with_one_alignment_target(xacle):
    corpus = read_corpus("xacle", xacle)
    assert corpus.name == "xacle" and corpus.targets == ["alignment"]
    assert corpus.splits == ["train", "validation", "test"]
    assert corpus.items["id"].tolist() == [f"{k:05d}" for k in range(8)]
    assert (corpus.items["system"] == "").all()
    assert corpus.items["path"].tolist()[4] == str(xacle / "wav" / "validation" / "00004.wav")


def test_texts_with_commas_and_quotes_come_from_the_csv(xacle):
    items = read_corpus("xacle", xacle).items
    assert items["text"].tolist()[:2] == ["A dog barks, then a car passes by", 'Rain falls on a tin roof while someone says "hello"']


def test_labels_are_the_average_file_and_the_mean_of_four_integer_ratings(xacle):
    corpus = read_corpus("xacle", xacle, splits=["train", "validation"])
    averages = [float(r[2]) for split in ("train", "validation") for r in rows(xacle / "meta_data" / f"{split}_average.csv")[1:]]
    assert corpus.labels["alignment"].tolist() == averages
    per_item = corpus.ratings.groupby("item")["alignment"]
    assert (per_item.size() == 4).all()
    np.testing.assert_allclose(per_item.mean(), corpus.labels["alignment"])
    np.testing.assert_array_equal(corpus.labels["alignment"] * 4, np.rint(corpus.labels["alignment"] * 4))
    assert corpus.ratings["listener"].iloc[0] == rows(xacle / "meta_data" / "train.csv")[1][3]


def test_readme_spelling_wave_file_name_is_accepted(tmp_path):
    corpus = read_corpus("xacle", write_xacle(tmp_path, spelling="wave_file_name"))
    assert len(corpus) == 8 and len(corpus.ratings) == 24


def test_challenge_test_csv_without_scores_gives_nan_labels(xacle):
    test = read_corpus("xacle", xacle, splits=["test"])
    assert len(test) == 2 and test.labels["alignment"].isna().all() and len(test.ratings) == 0


def test_test_average_file_labels_the_test_split(tmp_path):
    test = read_corpus("xacle", write_xacle(tmp_path, test_labels=True), splits=["test"])
    assert test.labels["alignment"].notna().all()


def test_without_average_file_labels_are_the_mean_ratings(xacle):
    expected = read_corpus("xacle", xacle, splits=["train"]).labels
    (xacle / "meta_data" / "train_average.csv").unlink()
    assert read_corpus("xacle", xacle, splits=["train"]).labels.equals(expected)


def test_a_split_with_only_an_average_file_has_labels_but_no_ratings(xacle):
    (xacle / "meta_data" / "validation.csv").unlink()
    validation = read_corpus("xacle", xacle, splits=["validation"])
    assert len(validation) == 2 and validation.labels["alignment"].notna().all() and len(validation.ratings) == 0


def test_integral_float_ratings_are_accepted(xacle):
    long = xacle / "meta_data" / "train.csv"
    content = rows(long)
    content[1][2] = f"{content[1][2]}.0"
    write_rows(long, content)
    assert len(read_corpus("xacle", xacle).ratings) == 24


def test_the_folder_holding_xacle_dataset_is_accepted_as_root(xacle):
    assert len(read_corpus("xacle", xacle.parent)) == 8


def test_unknown_split_lists_the_available_ones(xacle):
    with pytest.raises(ClapmosError, match=r"\['train', 'validation', 'test'\]"):
        read_corpus("xacle", xacle, splits=["dev"])


# --------------------------------------------------------------------------- bad input
def test_missing_wavs_of_every_split_are_listed_in_one_error(xacle):
    gone = [xacle / "wav" / "train" / "00001.wav", xacle / "wav" / "validation" / "00005.wav", xacle / "wav" / "test" / "00006.wav"]
    for path in gone:
        path.unlink()
    with pytest.raises(ClapmosError) as error:
        read_corpus("xacle", xacle)
    message = str(error.value)
    assert "3 of 8 audio file(s)" in message and "wav/<split>/" in message
    assert all(str(path) in message for path in gone)


def test_bad_scores_are_all_listed_with_file_line_and_value(xacle):
    long = xacle / "meta_data" / "train.csv"
    content = rows(long)
    content[2][2], content[5][2], content[7][2], content[9][2], content[11][2] = "11", "seven", "7.5", "-1", ""
    write_rows(long, content)
    with pytest.raises(ClapmosError) as error:
        read_corpus("xacle", xacle)
    message = str(error.value)
    assert "(5)" in message
    for line, value in [(3, "'11'"), (6, "'seven'"), (8, "'7.5'"), (10, "'-1'")]:
        assert f"{long}:{line} score: {value}" in message
    assert f"{long}:12 score: missing" in message


def test_average_scores_outside_0_to_10_are_listed(xacle):
    average = xacle / "meta_data" / "validation_average.csv"
    content = rows(average)
    content[2][2] = "10.25"
    write_rows(average, content)
    with pytest.raises(ClapmosError, match=rf"{average}:3 average_score: '10.25' is outside 0–10"):
        read_corpus("xacle", xacle)


def test_lines_with_the_wrong_number_of_fields_are_named(xacle):
    long = xacle / "meta_data" / "train.csv"
    content = rows(long)
    content[3] = content[3][:3]
    content[6] = [*content[6], "extra"]
    write_rows(long, content)
    with pytest.raises(ClapmosError) as error:
        read_corpus("xacle", xacle)
    assert f"{long}:4: 3 field(s)" in str(error.value) and f"{long}:7: 5 field(s)" in str(error.value)


def test_a_header_without_the_expected_columns_names_the_file_and_expected_header(xacle):
    average = xacle / "meta_data" / "train_average.csv"
    content = rows(average)
    content[0] = ["file", "text", "average_score"]
    write_rows(average, content)
    with pytest.raises(ClapmosError, match=rf"{average}:1: header .* lacks \['wav_file_name'\]; expected wav_file_name,text,average_score"):
        read_corpus("xacle", xacle)


def test_rows_that_disagree_on_a_clips_text_are_an_error(xacle):
    long = xacle / "meta_data" / "validation.csv"
    content = rows(long)
    content[2][1] = "A cat meows"
    write_rows(long, content)
    with pytest.raises(ClapmosError, match=rf"{long}:3: 00004\.wav has text 'A cat meows'"):
        read_corpus("xacle", xacle)


def test_duplicate_clips_in_an_average_file_are_listed(xacle):
    average = xacle / "meta_data" / "train_average.csv"
    content = rows(average)
    write_rows(average, [*content, content[1], content[2]])
    with pytest.raises(ClapmosError) as error:
        read_corpus("xacle", xacle)
    assert f"{average}:6: 00000.wav" in str(error.value) and f"{average}:7: 00001.wav" in str(error.value)


def test_the_same_clip_in_two_splits_is_a_duplicate_id(xacle):
    average = xacle / "meta_data" / "validation_average.csv"
    content = rows(average)
    write_rows(average, [*content, rows(xacle / "meta_data" / "train_average.csv")[1]])
    with pytest.raises(ClapmosError, match=r"00000: .*train_average\.csv:2, .*validation_average\.csv:4"):
        read_corpus("xacle", xacle)


def test_missing_metadata_names_the_expected_files(tmp_path):
    with pytest.raises(ClapmosError, match=r"meta_data/train\.csv"):
        read_corpus("xacle", tmp_path)
