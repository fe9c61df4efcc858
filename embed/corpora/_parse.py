"""Small parsing helpers shared by the corpus readers.

Everything here reports bad input as :class:`~clapmos.embed.errors.ClapmosError` with the
file and 1-based line number, and collects *all* offenders before raising.

>>> problems = Problems()
>>> parse_score("4.6", "sets/train_mos_list.txt:3", "overall", problems, low=1, high=5)
4.6
>>> parse_score("x", "sets/train_mos_list.txt:4", "overall", problems, low=1, high=5)
nan
>>> problems.entries
["sets/train_mos_list.txt:4 overall: 'x' is not a number"]
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clapmos.embed.corpora.table import COMPARISON_COLUMNS, ITEM_COLUMNS, Corpus, empty_comparisons
from clapmos.embed.errors import ClapmosError, listing

log = logging.getLogger("clapmos.embed.corpora")


@dataclass(frozen=True)
class Row:
    """One record of a text file: where it is and its fields."""

    file: Path
    line: int
    fields: list[str]

    @property
    def where(self) -> str:
        """``file:line``, the way every message names a record."""
        return f"{self.file}:{self.line}"


class Problems:
    """Offending entries collected while parsing, raised together as one error."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def add(self, entry: str) -> None:
        self.entries.append(entry)

    def raise_if_any(self, headline: str, advice: str = "") -> None:
        """Raise ``headline (N):`` followed by every entry and ``advice``, if any entry was added."""
        if self.entries:
            message = f"{headline} ({len(self.entries)}):\n{listing(self.entries)}"
            raise ClapmosError(message + (f"\n{advice}" if advice else ""))


def warn(message: str, notes: list[str]) -> None:
    """Log a reader warning and keep it in the corpus notes."""
    log.warning(message)
    notes.append(message)


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (a leading BOM dropped), with a clear error if unreadable."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ClapmosError(f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8 and retry.") from None
    except OSError as error:
        raise ClapmosError(f"cannot read {path}: {error.strerror}") from None


def csv_rows(path: Path, delimiter: str = ",") -> Iterator[Row]:
    """Non-blank CSV records of ``path`` with the line each starts on (quoted newlines allowed)."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter)
    start = 1
    try:
        for fields in reader:
            if any(field.strip() for field in fields):
                yield Row(path, start, [field.strip() for field in fields])
            start = reader.line_num + 1
    except csv.Error as error:
        raise ClapmosError(f"{path}:{reader.line_num}: not valid CSV ({error})") from None


def fixed_rows(path: Path, layout: Sequence[str], delimiter: str = ",") -> list[Row]:
    """Records of a headerless file that must have exactly ``len(layout)`` fields.

    Every malformed line is reported in one error naming the expected layout.
    """
    rows, problems = [], Problems()
    for row in csv_rows(path, delimiter):
        if len(row.fields) != len(layout):
            problems.add(f"{row.where}: {len(row.fields)} field(s) {row.fields!r}")
        else:
            rows.append(row)
    problems.raise_if_any(
        f"{path}: malformed line(s), expected {len(layout)} fields {delimiter.join(layout)}",
        "Fix or remove these lines.",
    )
    return rows


def parse_score(
    value: object,
    where: str,
    column: str,
    problems: Problems,
    low: float = -math.inf,
    high: float = math.inf,
    integer: bool = False,
    required: bool = False,
) -> float:
    """``value`` as a finite float in ``[low, high]`` (an integral one if ``integer``).

    An empty value is a missing score (NaN), itself a problem if ``required``;
    anything else that fails is added to ``problems`` and returned as NaN so that
    parsing can go on and report all offenders.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.add(f"{where} {column}: missing")
        return math.nan
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        problems.add(f"{where} {column}: {value!r} is not a number")
        return math.nan
    if not math.isfinite(number):
        problems.add(f"{where} {column}: {value!r} is not a finite number")
    elif not low <= number <= high:
        problems.add(f"{where} {column}: {value!r} is outside {low:g}–{high:g}")
    elif integer and not number.is_integer():
        problems.add(f"{where} {column}: {value!r} is not a whole number")
    else:
        return number
    return math.nan


def check_audio(paths: Sequence[Path], searched: str, advice: str = "") -> None:
    """One error listing every audio file of ``paths`` that does not exist."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        hint = advice or "Check that --root points at the release folder and that every audio file was extracted."
        raise ClapmosError(
            f"{len(missing)} of {len(paths)} audio file(s) listed by the corpus are missing "
            f"(searched {searched}):\n{listing(missing)}\n{hint}"
        )


def check_unique_ids(ids: Sequence[str], wheres: Sequence[str], advice: str = "") -> None:
    """One error listing every clip id that occurs more than once, with where each occurs."""
    seen: dict[str, list[str]] = {}
    for clip_id, where in zip(ids, wheres):
        seen.setdefault(clip_id, []).append(where)
    repeated = [f"{clip_id}: {', '.join(places)}" for clip_id, places in seen.items() if len(places) > 1]
    if repeated:
        raise ClapmosError(
            f"{len(repeated)} clip id(s) occur more than once; ids must be unique across splits:\n{listing(repeated)}"
            + (f"\n{advice}" if advice else "")
        )


def choose_splits(corpus: str, available: Sequence[str], requested: Sequence[str] | None) -> list[str]:
    """The splits to read, in ``available`` order; an unknown request is an error listing the choices."""
    if not requested:
        return list(available)
    unknown = [s for s in requested if s not in available]
    if unknown:
        raise ClapmosError(
            f"corpus {corpus} has no split(s) {unknown}; it has {list(available)}. Pass --split with one of those."
        )
    return [s for s in available if s in requested]


def ordered_splits(names: Sequence[str], canonical: Sequence[str]) -> list[str]:
    """``names`` with the ``canonical`` ones first, in that order, then the rest sorted."""
    rank = {name: i for i, name in enumerate(canonical)}
    return sorted(set(names), key=lambda name: (rank.get(name, len(rank)), name))


def build_corpus(
    name: str,
    items: dict[str, list],
    labels: dict[str, list[float]],
    ratings: dict[str, list],
    targets: list[str],
    source: Path,
    notes: list[str],
    comparisons: dict[str, list] | None = None,
) -> Corpus:
    """Assemble and validate a :class:`Corpus` from column lists.

    ``items`` has the :data:`~clapmos.embed.corpora.table.ITEM_COLUMNS`; ``ratings`` has
    ``item``, ``listener`` and one list per target (all may be empty); ``comparisons``, if
    given, the :data:`~clapmos.embed.corpora.table.COMPARISON_COLUMNS`.
    """
    item_table = pd.DataFrame({column: pd.Series(items[column], dtype=str) for column in ITEM_COLUMNS})
    label_table = pd.DataFrame({t: np.asarray(labels[t], dtype=np.float64) for t in targets}, index=item_table.index)
    rating_table = pd.DataFrame(
        {
            "item": np.asarray(ratings.get("item", []), dtype=np.int64),
            "listener": pd.Series(ratings.get("listener", []), dtype=str),
            **{t: np.asarray(ratings.get(t, []), dtype=np.float64) for t in targets},
        }
    )
    votes = empty_comparisons()
    if comparisons and comparisons.get("a"):
        votes = pd.DataFrame(
            {
                "a": np.asarray(comparisons["a"], dtype=np.int64), "b": np.asarray(comparisons["b"], dtype=np.int64),
                **{c: pd.Series(comparisons[c], dtype=object).astype(str) for c in ("prompt", "vote", "voter", "dimension")},
                "confidence": np.asarray(comparisons["confidence"], dtype=np.float64),
            }
        )[COMPARISON_COLUMNS]
    corpus = Corpus(name, item_table, label_table, rating_table, list(targets), str(source), notes, votes)
    corpus.validate()
    return corpus


def jsonl_records(path: Path) -> list[tuple[str, dict]]:
    """``(file:line, object)`` for every non-blank line of a JSON-lines file.

    Lines that are not JSON objects are all reported in one error with their line numbers.
    """
    records, problems = [], Problems()
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.add(f"{path}:{number}: not JSON ({error.msg}, column {error.colno})")
            continue
        if not isinstance(record, dict):
            problems.add(f"{path}:{number}: a JSON {type(record).__name__}, not an object")
            continue
        records.append((f"{path}:{number}", record))
    problems.raise_if_any(f"{path}: malformed line(s), expected one JSON object per line", "Fix or remove these lines.")
    return records


def resolve_audio(relative: str, bases: Sequence[Path]) -> Path:
    """The first existing ``base / relative`` (an absolute path as is); else the first candidate, for the missing-file report."""
    path = Path(relative)
    if path.is_absolute():
        return path
    candidates = [base / path for base in bases]
    return next((c for c in candidates if c.is_file()), candidates[0])
