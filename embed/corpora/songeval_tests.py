"""The SongEval challenge's test sets (ICASSP 2026 ASAE, ``DATA.md`` §4): unlabelled songs and their lists.

The site says the test audio is MP3 (44.1 kHz, stereo) and that the ``.scp`` submissions' utt
ids "must match the test lists", but neither the folder layout, the list format nor the utt-id
format was found. ``embed --corpus songeval`` reads a folder *without* ``metadata.jsonl`` as a
test folder, accepting these variants (all assumed):

* the audio is ``.mp3`` (``.wav`` and ``.flac`` accepted too) directly in ``--root`` or in its
  ``mp3/``, ``wav/`` or ``audio/`` folder; the utt id is the file stem;
* each list file in ``--root`` (``.txt``, ``.scp`` or ``.lst``; not ``README``/``LICENSE``) is one
  split named by its stem (``track1_set1.txt`` → split ``track1_set1``), one song per line; the
  first whitespace-separated token is the song, written as an id (``123``), a file name
  (``123.mp3``) or a path (``mp3/123.mp3``), so an ``.scp`` of ``utt path`` or ``utt score`` lines
  works too; a song in two lists is an error;
* without a list every song is in split ``test``; with lists, songs no list names are left out
  (counted in the notes).

The songs have no ratings (the five targets are NaN) and no system. ``predict --format
songeval-track1`` / ``songeval-track2`` then writes one ``.scp`` per split in its list order.

>>> list_token("mp3/23.mp3 4.5"), list_token("  \\n")
('23', '')
"""

from __future__ import annotations

import math
from pathlib import Path

from clapmos.embed.corpora._parse import Problems, build_corpus, choose_splits, read_text, warn
from clapmos.embed.corpora.formats import SONGEVAL_TARGETS
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.errors import ClapmosError, listing

AUDIO_SUFFIXES = (".mp3", ".wav", ".flac")
AUDIO_FOLDERS = ("", "mp3", "wav", "audio")
LIST_SUFFIXES = (".txt", ".scp", ".lst")
NOT_LISTS = ("readme", "license", "licence")


def list_token(line: str) -> str:
    """The song id a list line names: the stem of its first whitespace-separated token (``""`` for a blank line)."""
    fields = line.split()
    return Path(fields[0]).stem if fields else ""


def audio_files(root: Path) -> dict[str, Path]:
    """``{stem: path}`` of the test audio in ``root`` and its audio folders (the first found for a stem)."""
    found: dict[str, Path] = {}
    for folder in AUDIO_FOLDERS:
        if (root / folder).is_dir():
            for path in sorted((root / folder).iterdir()):
                if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES:
                    found.setdefault(path.stem, path)
    return found


def read_songeval_tests(root: Path, splits: list[str] | None = None) -> Corpus:
    """Read a SongEval test folder (audio and optional lists, see the module docstring) as unlabelled songs."""
    root = Path(root).absolute()
    audio = audio_files(root)
    if not audio:
        raise ClapmosError(
            f"expected the SongEval metadata {root}/metadata.jsonl (or metadata_all.jsonl), or a test folder of "
            f"{', '.join(AUDIO_SUFFIXES)} files (in it or its mp3/, wav/, audio/), found neither. "
            "Pass --root SongEval (the folder that holds metadata.jsonl and mp3/) or the test folder."
        )
    lists = [p for p in sorted(root.iterdir()) if p.is_file() and p.suffix.lower() in LIST_SUFFIXES
             and not p.stem.lower().startswith(NOT_LISTS)]
    notes = [f"SongEval test folder (assumed layout): {len(audio)} audio file(s), lists: "
             + (", ".join(p.name for p in lists) if lists else "none (every song in split test)")]
    split_of: dict[str, str] = {}
    problems = Problems()
    for path in lists:
        for number, line in enumerate(read_text(path).splitlines(), start=1):
            song = list_token(line)
            if not song:
                continue
            if song not in audio:
                problems.add(f"{path}:{number}: {line.split()[0]}: no audio file {song}.mp3 (.wav, .flac) in {root} or its mp3/, wav/, audio/")
            elif song in split_of and split_of[song] != path.stem:
                problems.add(f"{path}:{number}: {song} is also in list {split_of[song]}")
            else:
                split_of.setdefault(song, path.stem)
    problems.raise_if_any("bad SongEval test list line(s)", "Fix these lines (or add the audio) and retry.")
    if not lists:
        split_of = dict.fromkeys(audio, "test")
    unlisted = [s for s in audio if s not in split_of]
    if unlisted:
        warn(f"{len(unlisted)} audio file(s) are in no test list and were left out:\n{listing(unlisted)}", notes)
    songs = list(split_of)  # list order, list after list
    chosen = choose_splits("songeval", list(dict.fromkeys(split_of.values())), splits)
    songs = [s for s in songs if split_of[s] in chosen]
    items = {
        "id": songs,
        "path": [str(audio[s]) for s in songs],
        "text": [""] * len(songs),
        "system": [""] * len(songs),
        "split": [split_of[s] for s in songs],
    }
    labels = {t: [math.nan] * len(songs) for t in SONGEVAL_TARGETS}
    return build_corpus("songeval", items, labels, {}, SONGEVAL_TARGETS, root, notes)
