"""Layouts DATA.md marks as not found, read in their plausible variants: the SongEval challenge's
test folders and lists (§4), and CMI-Pref-Pseudo's JSON lines (§6)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.corpora import read_corpus
from clapmos.embed.errors import ClapmosError
from tests.benchmark_layouts import write_cmi_pref, write_mp3, write_songeval


def write_test_folder(root, songs=("101", "102", "103", "104", "105"), folder="mp3", suffix=".mp3"):
    """A SongEval test folder: songs as MP3 in ``folder`` (``""``: flat)."""
    base = root / "songeval-test"
    for k, song in enumerate(songs):
        write_mp3(base / folder / f"{song}{suffix}", seconds=0.3, freq=200.0 + 30 * k)
    return base


@pytest.mark.parametrize("folder, line", [("mp3", "{}"), ("", "{}.mp3"), ("wav", "mp3/{}.mp3 3.5"), ("audio", "{}\tsome/path/{}.mp3")])
def test_each_test_list_is_a_split_of_unlabelled_songs_in_list_order(tmp_path, folder, line):
    base = write_test_folder(tmp_path, folder=folder)
    (base / "track1_set1.txt").write_text("\n".join(line.format(s, s) for s in ("103", "101", "105")) + "\n\n")
    (base / "track1_set2.scp").write_text(line.format("102", "102") + "\n")
    (base / "README.txt").write_text("not a list\n")
    corpus = read_corpus("songeval", base)
    assert corpus.items["id"].tolist() == ["103", "101", "105", "102"]
    assert corpus.items["split"].tolist() == ["track1_set1"] * 3 + ["track1_set2"]
    assert corpus.items["path"].tolist() == [str(base / folder / f"{s}.mp3") for s in ("103", "101", "105", "102")]
    assert corpus.labels.isna().all().all() and len(corpus.ratings) == 0
    assert corpus.targets == ["coherence", "memorability", "naturalness", "clarity", "musicality"]
    assert any("104" in note and "no test list" in note for note in corpus.notes)  # the unlisted song, left out
    assert read_corpus("songeval", base, splits=["track1_set2"]).items["id"].tolist() == ["102"]


def test_a_test_folder_without_lists_is_split_test(tmp_path):
    base = write_test_folder(tmp_path, songs=("7", "8"), folder="")
    corpus = read_corpus("songeval", base)
    assert corpus.items["id"].tolist() == ["7", "8"] and set(corpus.items["split"]) == {"test"}


def test_bad_list_lines_are_named_with_their_line_numbers(tmp_path):
    base = write_test_folder(tmp_path, songs=("1", "2"))
    (base / "set1.txt").write_text("1\n9\n")
    (base / "set2.txt").write_text("\n1\n")
    with pytest.raises(ClapmosError) as error:
        read_corpus("songeval", base)
    message = str(error.value)
    assert "set1.txt:2: 9: no audio file 9.mp3" in message
    assert "set2.txt:2: 1 is also in list set1" in message


def test_a_folder_with_neither_metadata_nor_audio_says_what_was_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClapmosError, match="expected the SongEval metadata .*metadata.jsonl.*or a test folder"):
        read_corpus("songeval", tmp_path / "empty")


def test_a_run_fitted_on_the_release_writes_the_scp_of_a_test_list(tmp_path):
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    release, _ = write_songeval(tmp_path, n=8, val=(1, 4))
    invoke("embed", "--corpus", "songeval", "--root", release, "--embedder", "spectral", "--out", tmp_path / "train.zarr")
    invoke("fit", "--store", tmp_path / "train.zarr", "--embedder", "spectral", "--head", "ridge", "--cv", 2, "--train-split", "train",
           "--out", tmp_path / "run")
    base = write_test_folder(tmp_path)
    (base / "track1_set1.txt").write_text("105\n101\n103\n")
    invoke("embed", "--corpus", "songeval", "--root", base, "--embedder", "spectral", "--out", tmp_path / "test.zarr")
    scp = tmp_path / "track1_set1_pred.scp"
    invoke("predict", "--model", tmp_path / "run", "--store", tmp_path / "test.zarr", "--split", "track1_set1",
           "--format", "songeval-track1", "--out", scp)
    lines = [line.split() for line in scp.read_text().splitlines()]
    assert [utt for utt, _ in lines] == ["105", "101", "103"] and all(math.isfinite(float(score)) for _, score in lines)


# --------------------------------------------------------------------------- CMI-Pref-Pseudo (layout not verified)
def test_jsonl_files_of_any_name_are_read_as_cmi_pref_votes(tmp_path):
    folder, rows = write_cmi_pref(tmp_path, n_clips=6, n_train=6, n_test=3)
    pseudo = folder / "data"
    pseudo.mkdir()
    for name in ("cmi_train.jsonl", "cmi_test.jsonl"):  # the same votes under HF-style shard names, without a split field
        records = [json.loads(line) for line in (folder / name).read_text().splitlines()]
        for record in records:
            del record["split"]
        stem = "train" if "train" in name else "test"
        (pseudo / f"{stem}-00000-of-00001.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
        (folder / name).unlink()
    corpus = read_corpus("preferences", folder)
    assert set(corpus.items["split"]) == {"train", "test"}
    votes = corpus.comparisons
    ids = corpus.items["id"].to_numpy()
    got = sorted(zip(ids[votes["a"]], ids[votes["b"]], votes["dimension"], votes["vote"], votes["confidence"]))
    expected = sorted((Path(r["audio-path"]).stem, Path(r["audio2"]).stem, d, r[f"preference-{d}"], float(r[f"confidence_preference-{d}"]))
                      for r in rows for d in ("musicality", "alignment"))
    assert got == expected
    test_clips = {Path(r[k]).stem for r in rows if r["split"] == "test" for k in ("audio-path", "audio2")}
    assert set(corpus.items["id"][corpus.items["split"] == "test"]) == test_clips
