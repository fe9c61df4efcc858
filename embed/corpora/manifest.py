"""Reader of a generic listening-test manifest (CSV or JSON Lines), ``DATA.md`` §3.

One row per rating or per clip. Columns:

``path`` (required)
    audio file, relative to the manifest's folder or absolute. Rows sharing a
    path are ratings of one clip.
``text``, ``system``, ``listener``, ``split`` (default ``train``), ``id`` (default: the audio stem)
    optional; ``system_id``, ``listener_id`` and ``sample_id`` are accepted for
    ``system``, ``listener`` and ``id`` (the usual MOS-toolkit names).
any other column
    a numeric score (a target, in column order; none at all is fine for an
    unlabelled corpus). Empty cells (JSON ``null``) are missing scores.

Scores are checked against a plausible range: the narrowest common rating scale (0–1,
1–5, 0–5, 0–10, 0–100) that holds all of the column's scores but a tenth at most; scores
outside it are named, file and line, in a warning. ``score_ranges``
(``--score-range``) replaces the guess with a range that is enforced: a score outside it
is an error.

A clip's label is the mean of its rows' scores. The ratings table has one row
per manifest row when there is a ``listener`` column or when some clip has
several rows; a row without a listener id is then named by its ordinal within
its clip (``r0``, ``r1``, ...). Text, system, split and id must agree between
the rows of one clip.

>>> _column_name("Listener_ID"), _column_name("MOS")
('listener', 'MOS')
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clapmos.embed.corpora._parse import (
    Problems, build_corpus, check_audio, check_unique_ids, choose_splits, csv_rows, jsonl_records, parse_score, warn,
)
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.errors import ClapmosError, listing

FIELDS = ("path", "text", "system", "listener", "split", "id")
SCALES = ((0.0, 1.0), (1.0, 5.0), (0.0, 5.0), (0.0, 10.0), (0.0, 100.0))  # rating scales, narrowest first
ScoreRanges = dict[str, tuple[float, float]]
ALIASES = {"system_id": "system", "listener_id": "listener", "sample_id": "id"}
JSONL_SUFFIXES = (".jsonl", ".json-lines", ".ndjson")
DEFAULT_SPLIT = "train"


@dataclass
class _Clip:
    path: Path
    lines: list[int] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    listeners: list[str] = field(default_factory=list)
    scores: list[list[float]] = field(default_factory=list)


def read_manifest(root: Path, splits: list[str] | None = None, score_ranges: ScoreRanges | None = None) -> Corpus:
    """Read the manifest file ``root``; targets are its score columns.

    ``score_ranges`` maps a score column (or ``"*"``, every column) to its allowed
    ``(low, high)``; without an entry a column gets a warning for implausible scores.

    Examples
    --------
    ``ratings.csv``::

        path,system,listener,mos
        a.wav,S1,L1,4
        a.wav,S1,L2,5

    >>> corpus = read_manifest(Path("ratings.csv"))  # doctest: +SKIP
    >>> corpus.targets, corpus.labels["mos"].tolist(), len(corpus.ratings)  # doctest: +SKIP
    (['mos'], [4.5], 2)
    """
    path = Path(root).absolute()
    if not path.is_file():
        raise ClapmosError(f"expected a manifest file (.csv or .jsonl) at {path}; for a manifest --root is the file itself.")
    records = _records(path)
    columns = _columns(path, records)
    targets = [c for c in columns if c not in FIELDS]
    clips = _clips(path, records, targets)
    notes: list[str] = []
    _check_score_ranges(path, clips, targets, score_ranges or {}, notes)
    available = list(dict.fromkeys(c.fields["split"] for c in clips.values()))
    chosen = choose_splits("manifest", available, splits)
    kept = [c for c in clips.values() if c.fields["split"] in chosen]
    ids = [c.fields["id"] for c in kept]
    check_unique_ids(ids, [f"{path}:{c.lines[0]} ({c.path})" for c in kept], "Add an `id` column with distinct ids.")
    check_audio([c.path for c in kept], f"relative to {path.parent}/")
    with_ratings = "listener" in columns or any(len(c.lines) > 1 for c in kept)
    ratings: dict[str, list] = {"item": [], "listener": [], **{t: [] for t in targets}}
    labels: dict[str, list[float]] = {t: [] for t in targets}
    for i, clip in enumerate(kept):
        for j, target in enumerate(targets):
            known = [s[j] for s in clip.scores if not math.isnan(s[j])]
            labels[target].append(sum(known) / len(known) if known else math.nan)
        if with_ratings:
            for k, (listener, scores) in enumerate(zip(clip.listeners, clip.scores)):
                ratings["item"].append(i)
                ratings["listener"].append(listener or f"r{k}")
                for target, score in zip(targets, scores):
                    ratings[target].append(score)
    items = {
        "id": ids,
        "path": [str(c.path) for c in kept],
        "text": [c.fields["text"] for c in kept],
        "system": [c.fields["system"] for c in kept],
        "split": [c.fields["split"] for c in kept],
    }
    return build_corpus("manifest", items, labels, ratings, targets, path, notes)


def _records(path: Path) -> list[tuple[int, dict[str, object]]]:
    """``(line, {column: value})`` for every row, column names normalised."""
    if path.suffix.lower() == ".csv":
        rows = list(csv_rows(path))
        if not rows:
            raise ClapmosError(f"{path} is empty; expected a header with a `path` column and one row per rating or clip.")
        header = rows[0].fields
        bad = [f"{r.where}: {len(r.fields)} field(s)" for r in rows[1:] if len(r.fields) != len(header)]
        if bad:
            raise ClapmosError(f"{path}: malformed line(s), expected {len(header)} fields like the header:\n{listing(bad)}")
        records = [(r.line, dict(zip(header, r.fields))) for r in rows[1:]]
    elif path.suffix.lower() in JSONL_SUFFIXES:
        records = [(int(where.rpartition(":")[2]), record) for where, record in jsonl_records(path)]
    else:
        raise ClapmosError(f"{path}: unknown manifest type {path.suffix!r}; use .csv or .jsonl.")
    if not records:
        raise ClapmosError(f"{path} has no rows; expected one row per rating or clip.")
    return [(line, {_column_name(k): v for k, v in record.items()}) for line, record in records]


def _column_name(name: object) -> str:
    name = str(name).strip()
    return ALIASES.get(name.lower(), name.lower() if name.lower() in FIELDS else name)


def _columns(path: Path, records: list[tuple[int, dict[str, object]]]) -> list[str]:
    """Every column in order of first appearance, checked for the required and reserved names."""
    columns = list(dict.fromkeys(k for _, record in records for k in record))
    if "path" not in columns:
        raise ClapmosError(f"{path}: no `path` column (columns: {columns}); add one naming each row's audio file.")
    if "item" in columns:
        raise ClapmosError(f"{path}: the column name `item` is reserved; rename that score column.")
    return columns


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _clips(path: Path, records: list[tuple[int, dict[str, object]]], targets: list[str]) -> dict[Path, _Clip]:
    """Rows grouped by audio file, with scores parsed and per-clip fields checked."""
    clips: dict[Path, _Clip] = {}
    problems, empty, conflicts = Problems(), [], []
    for line, record in records:
        audio = _text(record.get("path"))
        if not audio:
            empty.append(f"{path}:{line}")
            continue
        audio_path = Path(os.path.normpath(path.parent / Path(audio).expanduser()))
        values = {
            "text": _text(record.get("text")),
            "system": _text(record.get("system")),
            "split": _text(record.get("split")) or DEFAULT_SPLIT,
            "id": _text(record.get("id")) or audio_path.stem,
        }
        clip = clips.setdefault(audio_path, _Clip(audio_path, fields=values))
        for name, value in values.items():
            if value != clip.fields[name]:
                conflicts.append(f"{path}:{line}: {name} {value!r} but {clip.fields[name]!r} on line {clip.lines[0]} ({audio})")
        clip.lines.append(line)
        clip.listeners.append(_text(record.get("listener")))
        clip.scores.append([parse_score(record.get(t), f"{path}:{line}", t, problems) for t in targets])
    if empty:
        raise ClapmosError(f"{path}: {len(empty)} row(s) with an empty `path`:\n{listing(empty)}")
    problems.raise_if_any(f"{path}: score(s) that are not finite numbers", "Score columns are every column other than " + ", ".join(FIELDS) + ".")
    if conflicts:
        raise ClapmosError(f"{path}: {len(conflicts)} row(s) disagree with earlier rows of the same clip:\n{listing(conflicts)}")
    return clips


def _check_score_ranges(path: Path, clips: dict[Path, _Clip], targets: list[str], ranges: ScoreRanges, notes: list[str]) -> None:
    """Error for scores outside a given range; warning for scores outside the column's plausible scale."""
    unknown = sorted(set(ranges) - {"*", *targets})
    if unknown:
        raise ClapmosError(
            f"--score-range {', '.join(unknown)}: {path} has no such score column (its score columns: {', '.join(targets) or 'none'})."
        )
    problems = Problems()
    for j, target in enumerate(targets):
        rows = [(f"{path}:{line}", scores[j]) for clip in clips.values() for line, scores in zip(clip.lines, clip.scores)]
        values = np.array([value for _, value in rows], dtype=float)
        given = ranges.get(target, ranges.get("*"))
        scale = given or plausible_scale(values)
        if scale is None:
            continue
        low, high = scale
        outside = [f"{where} {target}: {value:g}" for where, value in rows if not low <= value <= high]
        if not outside:
            continue
        if given:
            problems.entries += [f"{entry} is outside {low:g}–{high:g}" for entry in outside]
        else:
            warn(
                f"{path}: {len(outside)} {target} score(s) lie outside {low:g}–{high:g}, the scale of the rest of the column "
                f"(a typo, or another scale?):\n{listing(outside)}\nFix them, or pass --score-range {target}=LOW,HIGH to say "
                "which range is right (scores outside it are then refused).",
                notes,
            )
    problems.raise_if_any(f"{path}: score(s) outside --score-range", "Fix these rows, or widen --score-range.")


def plausible_scale(values: np.ndarray) -> tuple[float, float] | None:
    """The narrowest common rating scale holding all the values but a tenth at most (one at least).

    ``None`` when no scale holds that many (the column is on a scale of its own).

    >>> plausible_scale(np.array([1.0, 2.0, 4.5, 5.0, 3.0, 1e6])), plausible_scale(np.array([250.0, 900.0]))
    ((1.0, 5.0), None)
    """
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return None
    spare = max(1, len(values) // 10)
    return next(((a, b) for a, b in SCALES if ((values < a) | (values > b)).sum() <= spare), None)
