"""Reader of SongEval (ASLP-lab, the ICASSP 2026 song aesthetics challenge), ``DATA.md`` §4.

``SongEval/metadata.jsonl`` holds one object per song: ``file_name`` (``mp3/0.mp3``) and
``annotation``, a list of per-annotator objects with 1–5 scores under ``Coherence``,
``Memorability``, ``Naturalness``, ``Clarity`` and ``Musicality``. The targets are those
five, lower-cased; a song's label is the mean over its annotators, per dimension.

What is inferred (from other people's loaders), and accepted in every plausible variant:

* the file is ``metadata.jsonl`` or ``metadata_all.jsonl``;
* ``file_name`` is ``mp3/0.mp3``, ``0.mp3`` or ``0`` (then ``mp3/`` and ``.mp3`` are added);
* ``annotation`` is a list of objects, or one object; the card's ``aesthetic_scores``
  object is read as one (mean) annotation; the card's long names ("Overall Coherence"...)
  are accepted as keys, in any case;
* other keys of an annotation (names not found) are skipped when not numbers;
* an empty ``annotation`` leaves the song unlabelled (NaN), counted in the notes.

Rater ids are not released: the per-annotator ratings are stored with an empty listener.
Systems are not named in the release (``system`` is empty). The challenge's validation list
``val_ids.txt`` (lines like ``mp3/23.mp3``), found in the folder or its ``static/``, makes the
split ``val`` and the rest ``train``; without it every song is ``train``. A folder without the
metadata is read as a challenge test folder (:mod:`clapmos.embed.corpora.songeval_tests`).

>>> song_id("mp3/23.mp3"), song_id("23")
('23', '23')
"""

from __future__ import annotations

import math
from pathlib import Path

from clapmos.embed.corpora._parse import (
    Problems,
    build_corpus,
    check_audio,
    check_unique_ids,
    choose_splits,
    jsonl_records,
    parse_score,
    read_text,
    warn,
)
from clapmos.embed.corpora.formats import SONGEVAL_KEYS, SONGEVAL_SCORE_RANGE, SONGEVAL_TARGETS
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.errors import ClapmosError, listing

METADATA_NAMES = ("metadata.jsonl", "metadata_all.jsonl")
VAL_LIST_NAMES = ("val_ids.txt", "static/val_ids.txt")
#: accepted spellings of each dimension key (the data's, the card's), lower-cased
KEY_SPELLINGS = {
    **{key.lower(): target for key, target in SONGEVAL_KEYS.items()},
    "overall coherence": "coherence",
    "naturalness of vocal breathing and phrasing": "naturalness",
    "clarity of song structure": "clarity",
    "overall musicality": "musicality",
}


def song_id(file_name: str) -> str:
    """The song id of a ``file_name`` entry: its file stem."""
    return Path(file_name.strip()).stem


def audio_name(file_name: str) -> str:
    """``file_name`` as a path under the release folder (``mp3/`` and ``.mp3`` added when absent)."""
    path = Path(file_name.strip())
    if not path.suffix:
        path = path.with_suffix(".mp3")
    return str(path if len(path.parts) > 1 else Path("mp3") / path)


def read_songeval(root: Path, splits: list[str] | None = None) -> Corpus:
    """Read the ``SongEval/`` release folder (or the folder holding it); five 1–5 targets.

    Examples
    --------
    >>> corpus = read_songeval(Path("SongEval"))  # doctest: +SKIP
    >>> corpus.targets, corpus.splits  # doctest: +SKIP
    (['coherence', 'memorability', 'naturalness', 'clarity', 'musicality'], ['train', 'val'])
    """
    root = Path(root).absolute()
    if not _metadata(root) and _metadata(root / "SongEval"):
        root = root / "SongEval"
    metadata = _metadata(root)
    if metadata is None:  # a challenge test folder: audio and lists, no ratings
        from clapmos.embed.corpora.songeval_tests import read_songeval_tests

        return read_songeval_tests(root, splits)
    notes: list[str] = []
    problems = Problems()
    songs = [_read_song(where, record, problems) for where, record in jsonl_records(metadata)]
    problems.raise_if_any(f"bad SongEval record(s) in {metadata.name}, expected file_name and 1–5 scores", "Fix these lines and retry.")
    check_unique_ids([s["id"] for s in songs], [s["where"] for s in songs])
    split_of = _splits(root, {s["id"] for s in songs}, notes)
    chosen = choose_splits("songeval", list(dict.fromkeys(split_of.get(s["id"], "train") for s in songs)), splits)
    songs = [s for s in songs if split_of.get(s["id"], "train") in chosen]
    check_audio([root / s["audio"] for s in songs], f"{root}/mp3/")
    unlabelled = [s["id"] for s in songs if not s["ratings"]]
    if unlabelled:
        warn(f"{len(unlabelled)} song(s) have an empty annotation list and no label:\n{listing(unlabelled)}", notes)
    items = {
        "id": [s["id"] for s in songs],
        "path": [str(root / s["audio"]) for s in songs],
        "text": [""] * len(songs),
        "system": [""] * len(songs),
        "split": [split_of.get(s["id"], "train") for s in songs],
    }
    labels = {t: [_mean([r[t] for r in s["ratings"]]) for s in songs] for t in SONGEVAL_TARGETS}
    ratings: dict[str, list] = {"item": [], "listener": [], **{t: [] for t in SONGEVAL_TARGETS}}
    for i, song in enumerate(songs):
        for rating in song["ratings"]:
            ratings["item"].append(i)
            ratings["listener"].append("")  # rater ids are not released
            for t in SONGEVAL_TARGETS:
                ratings[t].append(rating[t])
    return build_corpus("songeval", items, labels, ratings, SONGEVAL_TARGETS, root, notes)


def _metadata(root: Path) -> Path | None:
    return next((root / name for name in METADATA_NAMES if (root / name).is_file()), None)


def _read_song(where: str, record: dict, problems: Problems) -> dict:
    """One song: id, audio path, where it was read, and its annotators' scores (NaN where a key is absent)."""
    name = record.get("file_name", record.get("id"))
    if not isinstance(name, (str, int)) or not str(name).strip():
        problems.add(f"{where}: no file_name")
        name = ""
    annotation = record.get("annotation", record.get("aesthetic_scores"))
    if annotation is None:
        annotation = []
    if isinstance(annotation, dict):
        annotation = [annotation]
    if not isinstance(annotation, list) or not all(isinstance(a, dict) for a in annotation):
        problems.add(f"{where}: annotation is not a list of objects")
        annotation = []
    ratings = []
    for k, entry in enumerate(annotation):
        scores = dict.fromkeys(SONGEVAL_TARGETS, math.nan)
        for key, value in entry.items():
            target = KEY_SPELLINGS.get(str(key).strip().lower())
            if target is None:
                continue  # the release's other keys (names not found) are skipped
            scores[target] = parse_score(value, f"{where} annotation {k}", key, problems, *SONGEVAL_SCORE_RANGE)
        if all(math.isnan(v) for v in scores.values()):
            problems.add(f"{where} annotation {k}: none of {', '.join(SONGEVAL_KEYS)}")
        ratings.append(scores)
    return {"id": song_id(str(name)), "audio": audio_name(str(name)) if str(name).strip() else "", "where": where, "ratings": ratings}


def _mean(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return sum(known) / len(known) if known else math.nan


def _splits(root: Path, ids: set[str], notes: list[str]) -> dict[str, str]:
    """``song id -> "val"`` for the challenge's validation list, if the folder has it."""
    path = next((root / name for name in VAL_LIST_NAMES if (root / name).is_file()), None)
    if path is None:
        notes.append("no val_ids.txt: every song is in split train")
        return {}
    split_of, unknown = {}, []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if line.strip():
            song = song_id(line)
            if song not in ids:
                unknown.append(f"{path}:{number}: {line.strip()}")
            split_of[song] = "val"
    if unknown:
        raise ClapmosError(f"{path}: {len(unknown)} validation song(s) are not in the metadata:\n{listing(unknown)}")
    return split_of
