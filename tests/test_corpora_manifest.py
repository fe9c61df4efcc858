"""The generic manifest reader (CSV and JSON Lines) and the score parser it relies on."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clapmos.embed.corpora import read_corpus
from clapmos.embed.corpora._parse import Problems, parse_score
from clapmos.embed.errors import ClapmosError
from tests.layouts import write_manifest, write_wav


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    """``tmp_path`` with ``a.wav``, ``b.wav`` and ``sub/c.wav``."""
    for name in ("a.wav", "b.wav", "sub/c.wav"):
        write_wav(tmp_path / name, seconds=0.5)
    return tmp_path


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_rows_sharing_a_path_are_the_ratings_of_one_clip(tmp_path, fmt):
    corpus = read_corpus("manifest", write_manifest(tmp_path, fmt=fmt, n_clips=4, n_raters=3))
    assert corpus.name == "manifest" and corpus.targets == ["mos"] and len(corpus) == 4
    assert corpus.splits == ["train", "test"]
    assert corpus.items["path"].tolist() == [str(tmp_path / "audio" / f"clip{i}.wav") for i in range(4)]
    assert corpus.items["id"].tolist() == [f"clip{i}" for i in range(4)]
    assert corpus.items["system"].tolist() == ["sys0", "sys1", "sys0", "sys1"]
    assert len(corpus.ratings) == 12 and corpus.ratings["listener"].tolist()[:3] == ["L0", "L1", "L2"]
    np.testing.assert_allclose(corpus.ratings.groupby("item")["mos"].mean(), corpus.labels["mos"])


def test_csv_and_jsonl_manifests_read_identically(tmp_path):
    csv_corpus = read_corpus("manifest", write_manifest(tmp_path, fmt="csv", targets=("overall", "textual")))
    jsonl_corpus = read_corpus("manifest", write_manifest(tmp_path, fmt="jsonl", targets=("overall", "textual")))
    assert csv_corpus.targets == jsonl_corpus.targets == ["overall", "textual"]
    for table in ("items", "labels", "ratings"):
        pd.testing.assert_frame_equal(getattr(csv_corpus, table), getattr(jsonl_corpus, table))


def test_without_listener_column_several_rows_get_ordinal_listener_ids(tmp_path):
    corpus = read_corpus("manifest", write_manifest(tmp_path, with_listener=False, n_raters=2))
    assert corpus.ratings["listener"].tolist()[:4] == ["r0", "r1", "r0", "r1"]


def test_one_row_per_clip_without_listener_column_has_no_ratings(audio):
    manifest = write_csv(audio / "m.csv", "path,mos\na.wav,3.5\nb.wav,4.25\n")
    corpus = read_corpus("manifest", manifest)
    assert len(corpus.ratings) == 0 and corpus.labels["mos"].tolist() == [3.5, 4.25]


def test_defaults_split_train_id_stem_and_empty_text_and_system(audio):
    corpus = read_corpus("manifest", write_csv(audio / "m.csv", "path,score\nsub/c.wav,-2.5e3\n"))
    assert corpus.items.iloc[0].tolist() == ["c", str(audio / "sub" / "c.wav"), "", "", "train"]
    assert corpus.labels["score"].tolist() == [-2500.0]


def test_a_manifest_without_score_columns_is_an_unlabelled_corpus(audio):
    corpus = read_corpus("manifest", write_csv(audio / "m.csv", "path,text,split\na.wav,a piano,eval\nb.wav,a drum,eval\n"))
    assert corpus.targets == [] and len(corpus.labels) == 2 and corpus.labels.columns.empty
    assert corpus.items["text"].tolist() == ["a piano", "a drum"] and corpus.splits == ["eval"]


def test_absolute_paths_and_explicit_ids_are_used_as_given(audio, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    manifest = write_csv(elsewhere / "m.csv", f"id,path,mos\nfirst,{audio / 'a.wav'},1\nsecond,{audio / 'sub' / 'c.wav'},2\n")
    items = read_corpus("manifest", manifest).items
    assert items["id"].tolist() == ["first", "second"] and items["path"].tolist() == [str(audio / "a.wav"), str(audio / "sub" / "c.wav")]


def test_mos_toolkit_column_names_are_aliases(audio):
    manifest = write_csv(audio / "m.csv", "path,sample_id,system_id,listener_id,score\na.wav,u1,sysA,l7,4\na.wav,u1,sysA,l8,2\n")
    corpus = read_corpus("manifest", manifest)
    assert corpus.items.iloc[0][["id", "system"]].tolist() == ["u1", "sysA"]
    assert corpus.ratings["listener"].tolist() == ["l7", "l8"] and corpus.labels["score"].tolist() == [3.0]


def test_empty_scores_are_missing_and_left_out_of_the_mean(audio):
    manifest = audio / "m.jsonl"
    manifest.write_text(
        json.dumps({"path": "a.wav", "mos": 4, "ta": None}) + "\n" + json.dumps({"path": "a.wav", "mos": 2, "ta": 5}) + "\n"
        + json.dumps({"path": "b.wav", "mos": None}) + "\n"
    )
    corpus = read_corpus("manifest", manifest)
    assert corpus.targets == ["mos", "ta"]
    assert corpus.labels["mos"].tolist()[0] == 3.0 and corpus.labels["ta"].tolist()[0] == 5.0
    assert corpus.labels.iloc[1].isna().all()


def test_split_filter_and_unknown_split(tmp_path):
    manifest = write_manifest(tmp_path)
    assert read_corpus("manifest", manifest, splits=["test"]).items["id"].tolist() == ["clip1", "clip3"]
    with pytest.raises(ClapmosError, match=r"no split\(s\) \['dev'\]; it has \['train', 'test'\]"):
        read_corpus("manifest", manifest, splits=["dev"])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(-50, 50), min_size=1, max_size=4), min_size=1, max_size=3))
def test_labels_are_the_per_clip_means_of_the_rows(tmp_path_factory, scores):
    folder = tmp_path_factory.mktemp("prop")
    lines = ["path,listener,mos"]
    for clip, clip_scores in enumerate(scores):
        write_wav(folder / f"c{clip}.wav", seconds=0.1)
        lines += [f"c{clip}.wav,L{k},{s}" for k, s in enumerate(clip_scores)]
    corpus = read_corpus("manifest", write_csv(folder / "m.csv", "\n".join(lines)))
    np.testing.assert_allclose(corpus.labels["mos"], [np.mean(s) for s in scores])
    assert len(corpus.ratings) == sum(map(len, scores))


# --------------------------------------------------------------------------- bad input
def test_missing_audio_files_are_all_listed_in_one_error(audio):
    manifest = write_csv(audio / "m.csv", "path,mos\na.wav,1\nmissing1.wav,2\nsub/missing2.wav,3\nmissing1.wav,4\n")
    with pytest.raises(ClapmosError) as error:
        read_corpus("manifest", manifest)
    message = str(error.value)
    assert "2 of 3 audio file(s)" in message and str(audio / "missing1.wav") in message and str(audio / "sub" / "missing2.wav") in message
    assert f"relative to {audio}/" in message


def test_non_numeric_and_non_finite_scores_are_all_listed_with_file_line_and_value(audio):
    manifest = write_csv(audio / "m.csv", "path,system,mos\na.wav,S1,good\na.wav,S1,3\nb.wav,S2,inf\nb.wav,S2,nan\n")
    with pytest.raises(ClapmosError) as error:
        read_corpus("manifest", manifest)
    message = str(error.value)
    assert "(3)" in message
    assert f"{manifest}:2 mos: 'good' is not a number" in message
    assert f"{manifest}:4 mos: 'inf' is not a finite number" in message and f"{manifest}:5 mos: 'nan'" in message
    assert "Score columns are every column other than path, text, system" in message


def test_rows_of_one_clip_that_disagree_on_text_system_or_split_are_named(audio):
    manifest = write_csv(
        audio / "m.csv", "path,text,system,split,mos\na.wav,piano,S1,train,1\na.wav,piano,S2,train,2\na.wav,drums,S1,test,3\n"
    )
    with pytest.raises(ClapmosError) as error:
        read_corpus("manifest", manifest)
    message = str(error.value)
    assert f"{manifest}:3: system 'S2' but 'S1' on line 2" in message
    assert f"{manifest}:4: text 'drums'" in message and f"{manifest}:4: split 'test'" in message


def test_two_files_with_the_same_stem_are_duplicate_ids(audio):
    write_wav(audio / "sub" / "a.wav", seconds=0.5)
    manifest = write_csv(audio / "m.csv", "path,mos\na.wav,1\nsub/a.wav,2\n")
    with pytest.raises(ClapmosError, match=r"(?s)a: .*m\.csv:2 .*m\.csv:3 .*Add an `id` column"):
        read_corpus("manifest", manifest)


def test_a_manifest_without_path_column_lists_its_columns(audio):
    with pytest.raises(ClapmosError, match=r"no `path` column \(columns: \['file', 'mos'\]\)"):
        read_corpus("manifest", write_csv(audio / "m.csv", "file,mos\na.wav,1\n"))


def test_empty_paths_are_named_by_line(audio):
    with pytest.raises(ClapmosError, match=r"2 row\(s\) with an empty `path`:\n.*m\.csv:3\n.*m\.csv:4"):
        read_corpus("manifest", write_csv(audio / "m.csv", "path,mos\na.wav,1\n,2\n ,3\n"))


def test_csv_rows_with_the_wrong_number_of_fields_are_named(audio):
    manifest = write_csv(audio / "m.csv", "path,mos\na.wav,1,extra\nb.wav\n")
    with pytest.raises(ClapmosError, match=rf"(?s){manifest}:2: 3 field\(s\).*{manifest}:3: 1 field\(s\)"):
        read_corpus("manifest", manifest)


def test_malformed_json_lines_are_named(audio):
    manifest = audio / "m.jsonl"
    manifest.write_text('{"path": "a.wav", "mos": 1}\n{"path": "b.wav", mos: 2}\n\n[1, 2]\n')
    with pytest.raises(ClapmosError) as error:
        read_corpus("manifest", manifest)
    assert f"{manifest}:2: not JSON (Expecting property name" in str(error.value) and f"{manifest}:4: a JSON list" in str(error.value)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("m.txt", "path\na.wav\n", r"unknown manifest type '\.txt'"),
        ("m.csv", "", r"is empty"),
        ("m.csv", "path,item\na.wav,1\n", r"`item` is reserved"),
    ],
)
def test_unusable_manifests_are_explained(audio, name, content, expected):
    with pytest.raises(ClapmosError, match=expected):
        read_corpus("manifest", write_csv(audio / name, content))


def test_a_folder_as_root_asks_for_the_manifest_file(audio):
    with pytest.raises(ClapmosError, match="--root is the file itself"):
        read_corpus("manifest", audio)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=10))
def test_parse_score_returns_in_range_numbers_unchanged(value):
    problems = Problems()
    assert parse_score(repr(value), "f:1", "s", problems, 0, 10) == value and not problems.entries


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not 1 <= v <= 5))
def test_parse_score_reports_out_of_range_numbers(value):
    problems = Problems()
    assert math.isnan(parse_score(value, "f:1", "s", problems, 1, 5))
    assert problems.entries == [f"f:1 s: {value!r} is outside 1–5"]
