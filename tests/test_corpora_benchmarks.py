"""The SongEval, Audiobox Aesthetics, AudioMOS Track 2 and preference readers on tiny copies of their layouts.

Each layout round-trips into the store exactly (ids, paths, splits, systems, labels, single
ratings, votes), malformed rows are named with their line numbers, and the inferred variants
of DATA.md §4–6 are accepted.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from clapmos.embed.corpora import read_corpus
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore
from tests.benchmark_layouts import AXES, write_audiobox_aes, write_cmi_pref, write_music_arena, write_songeval, write_track2

TARGET_OF = {"Coherence": "coherence", "Musicality": "musicality", "Memorability": "memorability", "Clarity": "clarity", "Naturalness": "naturalness"}
AXIS_TARGET = dict(zip(AXES, ["PQ", "PC", "CE", "CU"]))


def roundtrip(corpus, tmp_path):
    return FeatureStore.create(tmp_path / "store.zarr", corpus)


# --------------------------------------------------------------------------- SongEval
def test_songeval_round_trips_into_the_store(tmp_path):
    folder, written = write_songeval(tmp_path)
    store = roundtrip(read_corpus("songeval", folder), tmp_path)
    items, labels, ratings = store.items(), store.labels(), store.ratings()
    assert items["id"].tolist() == [str(k) for k in range(6)]
    assert items["split"].tolist() == ["train", "val", "train", "train", "val", "train"]
    assert items["path"].tolist() == [str(folder / "mp3" / f"{k}.mp3") for k in range(6)]
    assert store.targets == ["coherence", "memorability", "naturalness", "clarity", "musicality"]
    for k, rated in written.items():
        row = int(k)
        for key, target in TARGET_OF.items():
            if rated:
                assert labels[target].iat[row] == pytest.approx(np.mean([a[key] for a in rated]), abs=1e-6)
                assert ratings[ratings["item"] == row][target].tolist() == [a[key] for a in rated]
            else:
                assert math.isnan(labels[target].iat[row])
    assert set(ratings["listener"]) == {""}  # rater ids are not released


@pytest.mark.parametrize("style, metadata", [("{}.mp3", "metadata.jsonl"), ("{}", "metadata_all.jsonl")])
def test_songeval_accepts_the_inferred_variants(tmp_path, style, metadata):
    folder, _ = write_songeval(tmp_path, file_name_style=style, metadata_name=metadata)
    corpus = read_corpus("songeval", folder.parent)  # the folder holding SongEval/ works too
    assert corpus.items["id"].tolist() == [str(k) for k in range(6)]


def test_songeval_card_layout_and_long_names(tmp_path):
    folder, _ = write_songeval(tmp_path, n=2, val=())
    record = {"file_name": "mp3/0.mp3", "aesthetic_scores": {"Overall Coherence": 4.0, "overall musicality": 3.5, "Memorability": 3,
                                                            "Naturalness of Vocal Breathing and Phrasing": 2, "Clarity of Song Structure": 5}}
    (folder / "metadata.jsonl").write_text(json.dumps(record) + "\n")
    (folder / "static" / "val_ids.txt").unlink()
    corpus = read_corpus("songeval", folder)
    assert corpus.labels.iloc[0].tolist() == [4.0, 3.0, 2.0, 5.0, 3.5]
    assert corpus.splits == ["train"]


def test_songeval_malformed_rows_are_named_with_line_numbers(tmp_path):
    folder, _ = write_songeval(tmp_path)
    lines = (folder / "metadata.jsonl").read_text().splitlines()
    lines[1] = lines[1].replace('"Coherence": ', '"Coherence": 7.5, "x": ', 1)
    lines[3] = "{not json"
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ClapmosError, match=r"metadata.jsonl:4: not JSON"):
        read_corpus("songeval", folder)
    lines[3] = json.dumps({"file_name": "mp3/3.mp3", "annotation": [{"Coherence": "high"}]})
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ClapmosError) as error:
        read_corpus("songeval", folder)
    assert "metadata.jsonl:2 annotation 0 Coherence: 7.5 is outside 1–5" in str(error.value)
    assert "metadata.jsonl:4 annotation 0 Coherence: 'high' is not a number" in str(error.value)


def test_songeval_validation_id_not_in_metadata_is_named(tmp_path):
    folder, _ = write_songeval(tmp_path)
    (folder / "static" / "val_ids.txt").write_text("mp3/1.mp3\nmp3/99.mp3\n")
    with pytest.raises(ClapmosError, match=r"val_ids.txt:2: mp3/99.mp3"):
        read_corpus("songeval", folder)


# --------------------------------------------------------------------------- Audiobox Aesthetics
def test_audiobox_aes_round_trips_into_the_store(tmp_path):
    folder, records = write_audiobox_aes(tmp_path)
    store = roundtrip(read_corpus("audiobox-aes", folder), tmp_path)
    items, labels, ratings = store.items(), store.labels(), store.ratings()
    assert store.splits == ["speech", "music", "pam"]
    assert store.targets == ["PQ", "PC", "CE", "CU"]
    for row, (clip_id, path, system) in enumerate(zip(items["id"], items["path"], items["system"])):
        relative = next(r for r in records if r.startswith(clip_id + "."))
        assert path == str(folder / relative)
        assert system == (relative.split("/")[2] if relative.startswith("human_eval") else relative.split("/")[0])
        for axis, target in AXIS_TARGET.items():
            assert labels[target].iat[row] == pytest.approx(np.mean(records[relative][axis]), abs=1e-6)
            assert ratings[ratings["item"] == row][target].tolist() == records[relative][axis]


def test_audiobox_bad_ratings_are_named(tmp_path):
    folder, _ = write_audiobox_aes(tmp_path)
    path = folder / "evaluation_data" / "AES_natural_music.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["Content_Enjoyment"][3] = 11
    del record["Production_Quality"]
    lines[1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ClapmosError) as error:
        read_corpus("audiobox-aes", folder)
    assert "AES_natural_music.jsonl:2 Content_Enjoyment[3]: 11 is outside 0–10" in str(error.value)
    assert "AES_natural_music.jsonl:2 Production_Quality: missing" in str(error.value)


def test_track2_lists_join_single_ratings_and_read_the_eval_phase(tmp_path):
    folder, written = write_track2(tmp_path)
    store = roundtrip(read_corpus("audiomos-track2", folder), tmp_path)
    items, labels, ratings = store.items(), store.labels(), store.ratings()
    assert store.splits == ["train", "dev", "eval"]
    listed = [row for split in ("train", "dev") for row in written["lists"][split]]
    for row, entry in enumerate(listed):
        assert items["id"].iat[row] == entry[0]
        assert [labels[t].iat[row] for t in ["PQ", "PC", "CE", "CU"]] == [float(v) for v in entry[2:]]  # as published
        assert len(ratings[ratings["item"] == row]) == 10
    for row, (clip_id, record) in enumerate(written["eval"].items(), start=len(listed)):
        assert items["id"].iat[row] == clip_id and items["system"].iat[row] == clip_id.split("-")[2]
        assert labels["PQ"].iat[row] == pytest.approx(np.mean(record["Production_Quality"]), abs=1e-6)


def test_track2_malformed_list_row_is_named(tmp_path):
    folder, _ = write_track2(tmp_path)
    path = folder / "audiomos2025_track2" / "audiomos2025-track2-dev_list.csv"
    path.write_text(path.read_text() + "only,three,fields\n")
    with pytest.raises(ClapmosError, match=re.escape(f"{path}:") + r"\d+: 3 field\(s\)"):
        read_corpus("audiomos-track2", folder)


# --------------------------------------------------------------------------- preferences
def test_cmi_pref_votes_round_trip_into_the_store(tmp_path):
    folder, rows = write_cmi_pref(tmp_path)
    store = roundtrip(read_corpus("preferences", folder), tmp_path)
    votes = store.comparisons()
    assert store.targets == ["musicality", "alignment"] and store.labels().isna().all().all()
    assert len(votes) == 2 * len(rows)
    for k, row in enumerate(rows):
        for j, dimension in enumerate(["musicality", "alignment"]):
            vote = votes.iloc[2 * k + j]
            assert vote["id_a"] == row["audio-path"].split("/")[-1][:-4] and vote["id_b"] == row["audio2"].split("/")[-1][:-4]
            assert (vote["vote"], vote["voter"], vote["dimension"], vote["prompt"]) == (row[f"preference-{dimension}"], row["user id"], dimension, row["prompt"])
            assert vote["confidence"] == row[f"confidence_preference-{dimension}"]
    assert set(store.items("test")["id"]) == {r["audio-path"].split("/")[-1][:-4] for r in rows if r["split"] == "test"} | {
        r["audio2"].split("/")[-1][:-4] for r in rows if r["split"] == "test"}
    assert len(store.comparisons("test")) == 2 * sum(r["split"] == "test" for r in rows)
    assert "comparisons" in store.summary() and "musicality" in store.summary()


def test_music_arena_battles_round_trip_and_private_systems_are_skipped(tmp_path):
    folder, battles = write_music_arena(tmp_path)
    corpus = read_corpus("preferences", folder)
    store = roundtrip(corpus, tmp_path)
    votes = store.comparisons()
    assert votes["vote"].tolist() == [b["preference"] for b in battles]
    assert votes["voter"].tolist() == [b["user_pseudonym"] for b in battles]
    assert votes["id_a"].tolist() == [b["audio_a"].removeprefix("audio_files/").removesuffix(".mp3") for b in battles]
    assert store.splits == ["01-2025JULAUG", "02-2025SEP"]
    assert any("private.json" in note for note in corpus.notes)
    assert len(read_corpus("preferences", folder, splits=["02-2025SEP"]).comparisons) == 2


def test_bad_votes_are_named_with_line_numbers(tmp_path):
    folder, _ = write_cmi_pref(tmp_path)
    path = folder / "cmi_train.jsonl"
    lines = path.read_text().splitlines()
    row = json.loads(lines[2])
    row["preference-musicality"] = "maybe"
    lines[2] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ClapmosError, match=r"cmi_train.jsonl:3 preference-musicality: 'maybe' is not a vote"):
        read_corpus("preferences", folder)


def test_cmi_single_file_variant_with_other_column_spellings(tmp_path):
    folder, rows = write_cmi_pref(tmp_path)
    lines = []
    for row in rows:
        row = {("audio_a" if k == "audio-path" else "audio_b" if k == "audio2" else "user_id" if k == "user id" else k): v for k, v in row.items()}
        lines.append(json.dumps(row))
    lines.append(json.dumps({"audio-path": "cmi-pref/gen-audio/000000abc000.mp3", "source": "PAM", "musicality": 3.5,
                             "text-music alignment": 2.0, "split": "test"}))  # a rating row: labels its clip
    lines.append(json.dumps({"audio-path": "cmi-pref/gen-audio/000000abc001.mp3", "source": "other"}))  # neither: skipped
    (folder / "all_test.jsonl").write_text("\n".join(lines) + "\n")
    for name in ("cmi_train.jsonl", "cmi_test.jsonl"):
        (folder / name).unlink()
    corpus = read_corpus("preferences", folder)
    assert len(corpus.comparisons) == 2 * len(rows) and set(corpus.comparisons["voter"]) == {r["user id"] for r in rows}
    assert any("1 row(s) without a second clip" in note for note in corpus.notes)
    rated = corpus.items["id"] == "000000abc000"
    assert corpus.labels[rated].iloc[0].to_dict() == {"musicality": 3.5, "alignment": 2.0}
    assert corpus.labels[~rated].isna().all().all() and corpus.items.loc[rated, "split"].item() == "test"
