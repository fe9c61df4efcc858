"""Reader of the XACLE release (text–audio alignment, ICASSP 2026), ``DATA.md`` §2.

``XACLE_dataset/meta_data/<split>.csv`` holds one row per rating
(``wav_file_name,text,score,listener_id``; the README's ``wave_file_name`` is
accepted too) and ``<split>_average.csv`` one row per clip
(``wav_file_name,text,average_score``). A split exists when either file does; the
challenge's ``test.csv`` has only ``wav_file_name,text``. Audio is
``wav/<split>/<wav_file_name>``. The one target, ``alignment``, is the average
file's score when given, else the mean of the clip's ratings (integers 0–10).

>>> sorted(XACLE_NAME_COLUMNS)
['wav_file_name', 'wave_file_name']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from clapmos.embed.corpora._parse import (
    Problems,
    Row,
    build_corpus,
    check_audio,
    check_unique_ids,
    choose_splits,
    csv_rows,
    ordered_splits,
    parse_score,
)
from clapmos.embed.corpora.formats import XACLE_NAME_COLUMNS, XACLE_SCORE_RANGE, XACLE_TARGET
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.errors import ClapmosError, listing



@dataclass
class _Clip:
    name: str
    split: str
    text: str
    where: str
    average: float = math.nan
    ratings: list[tuple[str, float]] = field(default_factory=list)

    @property
    def label(self) -> float:
        if not math.isnan(self.average) or not self.ratings:
            return self.average
        return sum(score for _, score in self.ratings) / len(self.ratings)


def read_xacle(root: Path, splits: list[str] | None = None) -> Corpus:
    """Read ``XACLE_dataset/`` (or the folder holding it); target ``alignment`` on 0–10.

    Examples
    --------
    >>> corpus = read_xacle(Path("XACLE_dataset"), splits=["validation"])  # doctest: +SKIP
    >>> corpus.targets, corpus.items.loc[0, "id"]  # doctest: +SKIP
    (['alignment'], '07500')
    """
    root = Path(root).absolute()
    if not (root / "meta_data").is_dir() and (root / "XACLE_dataset" / "meta_data").is_dir():
        root = root / "XACLE_dataset"
    files = _split_files(root / "meta_data")
    chosen = choose_splits("xacle", list(files), splits)
    clips: list[_Clip] = []
    problems = Problems()
    for split in chosen:
        clips.extend(_read_split(split, *files[split], problems))
    problems.raise_if_any("bad XACLE score(s), expected whole numbers 0–10 (averages: numbers 0–10)", "Fix these lines and retry.")
    check_unique_ids([Path(c.name).stem for c in clips], [c.where for c in clips])
    check_audio([root / "wav" / c.split / c.name for c in clips], f"{root}/wav/<split>/")
    items = {
        "id": [Path(c.name).stem for c in clips],
        "path": [str(root / "wav" / c.split / c.name) for c in clips],
        "text": [c.text for c in clips],
        "system": [""] * len(clips),
        "split": [c.split for c in clips],
    }
    ratings: dict[str, list] = {"item": [], "listener": [], XACLE_TARGET: []}
    for i, clip in enumerate(clips):
        for listener, score in clip.ratings:
            ratings["item"].append(i)
            ratings["listener"].append(listener)
            ratings[XACLE_TARGET].append(score)
    return build_corpus("xacle", items, {XACLE_TARGET: [c.label for c in clips]}, ratings, [XACLE_TARGET], root, [])


def _split_files(meta: Path) -> dict[str, tuple[Path | None, Path | None]]:
    """``split -> (long csv, average csv)``, either possibly absent."""
    names = [p.name for p in meta.glob("*.csv")] if meta.is_dir() else []
    splits = {n.removesuffix(".csv").removesuffix("_average") for n in names}
    if not splits:
        raise ClapmosError(
            f"expected the XACLE metadata {meta}/train.csv and train_average.csv (and validation*.csv), found none. "
            "Pass --root XACLE_dataset (the folder that holds meta_data/ and wav/)."
        )

    def existing(path: Path) -> Path | None:
        return path if path.is_file() else None

    return {
        s: (existing(meta / f"{s}.csv"), existing(meta / f"{s}_average.csv"))
        for s in ordered_splits(list(splits), ["train", "validation", "test"])
    }


def _header(rows: list[Row], path: Path, required: tuple[str, ...], expected: str) -> dict[str, int]:
    """Column positions from the header row; the file name column under ``name``."""
    if not rows:
        raise ClapmosError(f"{path} is empty; expected a header {expected} and one row per clip or rating.")
    columns = {name.lower(): i for i, name in enumerate(rows[0].fields)}
    name_column = next((c for c in XACLE_NAME_COLUMNS if c in columns), None)
    missing = [c for c in required if c not in columns] + ([] if name_column else ["wav_file_name"])
    if missing:
        raise ClapmosError(f"{path}:1: header {rows[0].fields} lacks {missing}; expected {expected}.")
    columns["name"] = columns[name_column]
    return columns


def _records(path: Path, required: tuple[str, ...], expected: str) -> tuple[dict[str, int], list[Row]]:
    """Header positions and data rows of a CSV, every row with the header's field count."""
    rows = list(csv_rows(path))
    columns = _header(rows, path, required, expected)
    width = len(rows[0].fields)
    bad = [f"{r.where}: {len(r.fields)} field(s)" for r in rows[1:] if len(r.fields) != width]
    if bad:
        raise ClapmosError(f"{path}: malformed line(s), expected {width} fields like the header {expected}:\n{listing(bad)}")
    return columns, rows[1:]


def _file_name(row: Row, columns: dict[str, int]) -> str:
    """The row's audio file name (``.wav`` added when it has no extension)."""
    name = row.fields[columns["name"]]
    return name if Path(name).suffix else f"{name}.wav"


def _read_split(split: str, long: Path | None, average: Path | None, problems: Problems) -> list[_Clip]:
    """The clips of one split, their average and single scores; bad scores go to ``problems``."""
    clips: dict[str, _Clip] = {}
    conflicts = []

    def clip_of(row: Row, columns: dict[str, int]) -> _Clip:
        name = _file_name(row, columns)
        text = row.fields[columns["text"]]
        clip = clips.setdefault(name, _Clip(name, split, text, row.where))
        if clip.text != text:
            conflicts.append(f"{row.where}: {name} has text {text[:60]!r}, elsewhere {clip.text[:60]!r}")
        return clip

    if average is not None:
        expected = "wav_file_name,text,average_score"
        columns, rows = _records(average, ("text", "average_score"), expected)
        duplicates = []
        for row in rows:
            if _file_name(row, columns) in clips:
                duplicates.append(f"{row.where}: {_file_name(row, columns)}")
            clip_of(row, columns).average = parse_score(
                row.fields[columns["average_score"]], row.where, "average_score", problems, *XACLE_SCORE_RANGE
            )
        if duplicates:
            raise ClapmosError(f"{average}: {len(duplicates)} clip(s) listed twice:\n{listing(duplicates)}")
    if long is not None:
        expected = "wav_file_name,text,score,listener_id"
        columns, rows = _records(long, ("text",), expected)
        if "score" in columns and "listener_id" not in columns:
            raise ClapmosError(f"{long}:1: a score column needs a listener_id column; expected {expected}.")
        for row in rows:
            clip = clip_of(row, columns)
            if "score" not in columns:
                continue
            score = parse_score(row.fields[columns["score"]], row.where, "score", problems, *XACLE_SCORE_RANGE, integer=True, required=True)
            clip.ratings.append((row.fields[columns["listener_id"]], score))
    if conflicts:
        raise ClapmosError(f"XACLE split {split}: {len(conflicts)} row(s) disagree on a clip's text:\n{listing(conflicts)}")
    return list(clips.values())
