"""The MusicEval readers on tiny copies of the phase-1, full and evaluation-phase layouts."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from clapmos.embed.corpora import read_corpus
from clapmos.embed.corpora.musiceval import clip_keys
from clapmos.embed.corpora.table import ITEM_COLUMNS
from clapmos.embed.errors import ClapmosError
from tests.layouts import musiceval_name, write_musiceval_eval, write_musiceval_full, write_musiceval_phase1

S001 = "audiomos2025-track1-S001_P101"  # demo system, text keyed by file name
S002 = "audiomos2025-track1-S002_P001"  # prompt P001, shared with S005
S005 = "audiomos2025-track1-S005_P001"


@pytest.fixture
def phase1(tmp_path: Path) -> Path:
    return write_musiceval_phase1(tmp_path)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write_lines(path: Path, content: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in content))


def drop_lines(path: Path, containing: str) -> None:
    write_lines(path, [line for line in lines(path) if containing not in line])


# --------------------------------------------------------------------------- phase 1
def test_phase1_has_train_and_dev_with_both_targets(phase1):
    corpus = read_corpus("musiceval", phase1)
    assert corpus.name == "musiceval"
    assert corpus.splits == ["train", "dev"]
    assert corpus.targets == ["overall", "textual"]
    assert list(corpus.items.columns) == ITEM_COLUMNS
    assert (corpus.items["split"] == "train").sum() == 6 and (corpus.items["split"] == "dev").sum() == 3


def test_items_are_wav_stems_with_absolute_existing_paths_and_system_ids(phase1):
    items = read_corpus("musiceval", phase1).items
    listed = [line.split(",")[0] for line in lines(phase1 / "sets" / "train_mos_list.txt")]
    assert items["id"].tolist()[:6] == [name.removesuffix(".wav") for name in listed]
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in items["path"])
    assert items["system"].tolist()[:4] == ["S001", "S002", "S017", "S005"]


def test_demo_system_text_comes_from_demo_prompt_info_by_file_name(phase1):
    items = read_corpus("musiceval", phase1).items.set_index("id")
    demo_texts = dict(line.split("\t") for line in lines(phase1 / "demo_prompt_info.txt")[1:])
    assert items.at[S001, "text"] == demo_texts[f"{S001}.wav"]
    assert "decoy" not in " ".join(items["text"])


def test_other_systems_share_the_prompt_text_by_prompt_id(phase1):
    items = read_corpus("musiceval", phase1).items.set_index("id")
    prompts = dict(line.split("\t") for line in lines(phase1 / "prompt_info.txt")[1:])
    assert items.at[S002, "text"] == items.at[S005, "text"] == prompts["P001"]


def test_labels_are_the_mos_lists_and_the_means_of_five_person_ratings(phase1):
    corpus = read_corpus("musiceval", phase1)
    first = lines(phase1 / "sets" / "train_mos_list.txt")[0].split(",")
    assert corpus.labels.iloc[0].tolist() == [float(first[1]), float(first[2])]
    per_item = corpus.ratings.groupby("item")
    assert (per_item.size() == 5).all() and len(per_item) == len(corpus)
    np.testing.assert_allclose(per_item[["overall", "textual"]].mean().to_numpy(), corpus.labels.to_numpy())
    np.testing.assert_allclose(corpus.labels.to_numpy() * 5, np.rint(corpus.labels.to_numpy() * 5))
    assert corpus.ratings["listener"].str.fullmatch(r"R\d\d").all()


def test_split_filter_keeps_the_split_and_reindexes_its_ratings(phase1):
    corpus = read_corpus("musiceval", phase1, splits=["dev"])
    assert corpus.splits == ["dev"] and len(corpus) == 3
    assert sorted(corpus.ratings["item"].unique()) == [0, 1, 2]
    np.testing.assert_allclose(corpus.ratings.groupby("item")["overall"].mean(), corpus.labels["overall"])


def test_unknown_split_is_an_error_listing_the_available_splits(phase1):
    with pytest.raises(ClapmosError, match=r"no split\(s\) \['test'\].*\['train', 'dev'\]"):
        read_corpus("musiceval", phase1, splits=["test"])


def test_full_release_reads_a_test_split_with_its_person_ratings(tmp_path):
    corpus = read_corpus("musiceval", write_musiceval_full(tmp_path))
    assert corpus.splits == ["train", "dev", "test"]
    test = corpus.subset(["test"])
    assert len(test) == 3 and len(test.ratings) == 15


def test_without_person_mos_the_ratings_table_is_empty(tmp_path):
    corpus = read_corpus("musiceval", write_musiceval_phase1(tmp_path, with_person_mos=False))
    assert len(corpus.ratings) == 0 and list(corpus.ratings.columns) == ["item", "listener", "overall", "textual"]
    assert corpus.labels.notna().all().all()


def test_person_mos_with_another_layout_is_a_warning_not_a_crash(phase1, caplog):
    person = phase1 / "person_mos" / "dev_person_mos.txt"
    write_lines(person, [",".join(line.split(",")[:3]) for line in lines(person)])
    with caplog.at_level(logging.WARNING, logger="clapmos.embed.corpora"):
        corpus = read_corpus("musiceval", phase1)
    assert "dev_person_mos.txt" in caplog.text and "4 fields" in caplog.text and "no per-rater scores" in caplog.text
    assert set(corpus.items["split"].iloc[corpus.ratings["item"]]) == {"train"}
    assert any("dev_person_mos.txt" in note for note in corpus.notes)


def test_person_mos_scores_out_of_range_skip_that_split_with_a_warning(phase1, caplog):
    person = phase1 / "person_mos" / "train_person_mos.txt"
    content = lines(person)
    content[1] = content[1].rsplit(",", 1)[0] + ",7"
    write_lines(person, content)
    with caplog.at_level(logging.WARNING, logger="clapmos.embed.corpora"):
        corpus = read_corpus("musiceval", phase1)
    assert "train_person_mos.txt:2" in caplog.text and "'7'" in caplog.text
    assert set(corpus.items["split"].iloc[corpus.ratings["item"]]) == {"dev"}


def test_person_ratings_of_clips_not_in_the_split_are_warned_about_and_dropped(phase1, caplog):
    person = phase1 / "person_mos" / "dev_person_mos.txt"
    stray = musiceval_name("S002", "P999")
    write_lines(person, [*lines(person), f"{stray},R01,3,3", f"{musiceval_name('S002', 'P001')},R01,3,3"])
    with caplog.at_level(logging.WARNING, logger="clapmos.embed.corpora"):
        corpus = read_corpus("musiceval", phase1)
    assert "2 rating(s) of clips not in sets/dev_mos_list.txt" in caplog.text
    assert "dev_person_mos.txt:16" in caplog.text and "dev_person_mos.txt:17" in caplog.text
    assert len(corpus.ratings) == 45


def test_demo_clip_missing_from_demo_prompt_info_falls_back_to_prompt_id_with_a_warning(phase1, caplog):
    drop_lines(phase1 / "demo_prompt_info.txt", S001)
    with caplog.at_level(logging.WARNING, logger="clapmos.embed.corpora"):
        corpus = read_corpus("musiceval", phase1)
    assert corpus.items.set_index("id").at[S001, "text"] == "decoy text for prompt id P101"
    assert f"{S001}.wav" in caplog.text and "by prompt id" in caplog.text


# --------------------------------------------------------------------------- evaluation phase
@pytest.mark.parametrize("level", ["DATA", "parent"])
def test_eval_list_ids_without_wav_read_from_the_data_folder_or_its_parent(tmp_path, level):
    data = write_musiceval_eval(tmp_path)
    assert not lines(data / "sets" / "eval_list.txt")[0].endswith(".wav")
    corpus = read_corpus("musiceval-eval", data if level == "DATA" else data.parent)
    assert corpus.name == "musiceval-eval" and corpus.splits == ["eval"] and len(corpus) == 4
    assert corpus.labels.isna().all().all() and len(corpus.ratings) == 0
    assert corpus.items.set_index("id").at[S001, "text"].startswith("demo text of S001")
    assert all(Path(p).is_file() for p in corpus.items["path"])


def test_eval_reader_has_only_the_eval_split(tmp_path):
    with pytest.raises(ClapmosError, match=r"\['eval'\]"):
        read_corpus("musiceval-eval", write_musiceval_eval(tmp_path), splits=["dev"])


def test_missing_eval_list_names_the_expected_file(tmp_path):
    with pytest.raises(ClapmosError, match=r"sets/eval_list\.txt"):
        read_corpus("musiceval-eval", tmp_path)


# --------------------------------------------------------------------------- bad input
def test_missing_wavs_are_all_listed_in_one_error(phase1):
    gone = [S002, S005, "audiomos2025-track1-S001_P102"]
    for name in gone:
        (phase1 / "wav" / f"{name}.wav").unlink()
    with pytest.raises(ClapmosError) as error:
        read_corpus("musiceval", phase1)
    message = str(error.value)
    assert "3 of 9 audio file(s)" in message and f"{phase1 / 'wav'}/" in message
    assert all(name in message for name in gone)


def test_malformed_mos_list_lines_are_all_named_by_file_and_line(phase1):
    mos = phase1 / "sets" / "train_mos_list.txt"
    write_lines(mos, [*lines(mos), f"{musiceval_name('S002', 'P050')},4.0", "a,b,c,d"])
    with pytest.raises(ClapmosError) as error:
        read_corpus("musiceval", phase1)
    message = str(error.value)
    assert f"{mos}:7" in message and f"{mos}:8" in message and "WAVFILE,OVERALL,TEXTUAL" in message


def test_bad_scores_are_all_listed_with_file_line_and_value(phase1):
    mos = phase1 / "sets" / "dev_mos_list.txt"
    content = lines(mos)
    name = [line.split(",")[0] for line in content]
    write_lines(mos, [f"{name[0]},5.2,3.0", f"{name[1]},abc,3.0", f"{name[2]},3.0,0.8"])
    train = phase1 / "sets" / "train_mos_list.txt"
    content = lines(train)
    content[4] = content[4].split(",")[0] + ",,4.0"
    write_lines(train, content)
    with pytest.raises(ClapmosError) as error:
        read_corpus("musiceval", phase1)
    message = str(error.value)
    assert "(4)" in message and f"{train}:5 overall: missing" in message
    assert f"{mos}:1 overall: '5.2'" in message and f"{mos}:2 overall: 'abc'" in message and f"{mos}:3 textual: '0.8'" in message


def test_clips_without_any_prompt_text_are_all_listed(phase1):
    drop_lines(phase1 / "prompt_info.txt", "P001\t")
    drop_lines(phase1 / "prompt_info.txt", "P201\t")
    drop_lines(phase1 / "demo_prompt_info.txt", "S017_P201")
    with pytest.raises(ClapmosError) as error:
        read_corpus("musiceval", phase1)
    message = str(error.value)
    assert "3 clip(s) have no text" in message
    assert all(f"{name}.wav" in message for name in (S002, S005, "audiomos2025-track1-S017_P201"))


def test_duplicate_clip_ids_are_listed_with_where_they_occur(phase1):
    train, dev = phase1 / "sets" / "train_mos_list.txt", phase1 / "sets" / "dev_mos_list.txt"
    write_lines(dev, [*lines(dev), lines(train)[1]])
    with pytest.raises(ClapmosError) as error:
        read_corpus("musiceval", phase1)
    message = str(error.value)
    assert S002 in message and f"{train}:2" in message and f"{dev}:4" in message


def test_missing_sets_folder_names_the_expected_score_lists(tmp_path):
    with pytest.raises(ClapmosError, match=r"sets/train_mos_list\.txt"):
        read_corpus("musiceval", tmp_path)


def test_release_parent_folder_gets_a_did_you_mean_hint(phase1):
    with pytest.raises(ClapmosError, match=r"Did you mean --root .*MusicEval-phase1\?"):
        read_corpus("musiceval", phase1.parent)


def test_evaluation_folder_given_to_the_labelled_reader_points_at_musiceval_eval(tmp_path):
    with pytest.raises(ClapmosError, match="musiceval-eval"):
        read_corpus("musiceval", write_musiceval_eval(tmp_path))


def test_missing_prompt_info_names_the_expected_file(phase1):
    (phase1 / "prompt_info.txt").unlink()
    with pytest.raises(ClapmosError, match=r"prompt_info\.txt at .*MusicEval-phase1/prompt_info\.txt"):
        read_corpus("musiceval", phase1)


def test_prompt_lines_without_a_tab_are_named_by_line(phase1):
    prompts = phase1 / "prompt_info.txt"
    write_lines(prompts, [*lines(prompts), "P300 no tab here"])
    with pytest.raises(ClapmosError, match=rf"{prompts}:\d+: 'P300 no tab here'"):
        read_corpus("musiceval", phase1)


@pytest.mark.parametrize(
    ("name", "keys"),
    [("audiomos2025-track1-S002_P044.wav", ("S002", "P044")), ("audiomos2025-track1-S017_P146", ("S017", "P146"))],
)
def test_clip_keys_split_system_and_prompt_id(name, keys):
    assert clip_keys(name) == keys
