"""Challenge submission files: write them, read them back, and check them before uploading.

Three formats, each mapping the store's clip ids and target names to a file layout:

``audiomos``
    AudioMOS 2025 Track 1 ``answer.txt``: no header, ``ID,OVERALL,TEXTUAL`` per line, ids
    without ``.wav``; a path ending in ``.zip`` means a zip with ``answer.txt`` inside.
``xacle``
    XACLE CSV with header ``wav_file_name,pred_score``; names carry ``.wav``.
``csv``
    Any targets: header ``id,<target>,...``, ids as in the store.
``songeval-track1``
    ICASSP 2026 song aesthetics, Track 1 (``track1_set1_pred.scp``, ``track1_set2_pred.scp``):
    no header, whitespace-separated ``utt score`` (overall musicality), one file per test set.
``songeval-track2``, ``songeval-track2-site``
    Track 2 (``track2_pred.scp``): ``utt score1 … score5``. The order of the five is not stated:
    ``songeval-track2`` uses the baseline's (coherence, musicality, memorability, clarity,
    naturalness), ``songeval-track2-site`` the site's list (coherence, memorability, naturalness,
    clarity, musicality).
``audiomos-track2``
    AudioMOS 2025 Track 2 as participants wrote it (the official layout was not found):
    header ``sample_id,PQ,PC,CE,CU``.

Reading fails on malformed files (every bad line named at once) but keeps NaN values, so
that evaluation can drop and count them; validation also requires finite values and exactly
the expected ids.

>>> import pandas as pd, tempfile, pathlib
>>> predictions = pd.DataFrame({"id": ["10500", "10501"], "alignment": [7.25, 3.5]})
>>> path = pathlib.Path(tempfile.mkdtemp()) / "submission.csv"
>>> _ = write_submission(predictions, path, "xacle", expected_ids=["10500", "10501"])
>>> print(path.read_text(), end="")
wav_file_name,pred_score
10500.wav,7.25
10501.wav,3.5
>>> read_submission(path).equals(predictions)
True
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clapmos.embed.corpora.formats import AUDIOBOX_TARGETS, MUSICEVAL_TARGETS, SONGEVAL_ORDERS, XACLE_NAME_COLUMNS, XACLE_TARGET
from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.ownership import record_file

ANSWER_NAME = "answer.txt"
SHOWN_IDS = 5


@dataclass(frozen=True)
class SubmissionFormat:
    """How one challenge lays out predictions: header, id spelling and target columns."""

    name: str
    id_column: str
    columns: dict[str, str] = field(default_factory=dict)  # target -> column; empty: from the header
    header: bool = True
    id_suffix: str = ""
    delimiter: str | None = ","  # None: any whitespace (Kaldi-style .scp)

    def file_columns(self, targets: list[str]) -> list[str]:
        return [self.id_column, *(self.columns[t] for t in targets)] if self.columns else ["id", *targets]

    def targets(self, header: list[str] | None) -> list[str]:
        return list(self.columns) if self.columns else list(header[1:])

    def to_file_id(self, clip_id: str) -> str:
        return f"{clip_id}{self.id_suffix}"


FORMATS = {
    "audiomos": SubmissionFormat("audiomos", "ID", {t: t.upper() for t in MUSICEVAL_TARGETS}, header=False),
    "xacle": SubmissionFormat("xacle", XACLE_NAME_COLUMNS[0], {XACLE_TARGET: "pred_score"}, id_suffix=".wav"),
    "csv": SubmissionFormat("csv", "id"),
    "songeval-track1": SubmissionFormat("songeval-track1", "utt", {"musicality": "score"}, header=False, delimiter=None),
    **{
        name: SubmissionFormat(name, "utt", {t: f"score{i}" for i, t in enumerate(SONGEVAL_ORDERS[order], 1)}, header=False, delimiter=None)
        for name, order in (("songeval-track2", "baseline"), ("songeval-track2-site", "site"))
    },
    "audiomos-track2": SubmissionFormat("audiomos-track2", "sample_id", {t: t for t in AUDIOBOX_TARGETS}),
}


def detect_format(path: str | Path) -> str:
    """Guess the format of a prediction file from its name and first line.

    ``.zip`` and headerless files are ``audiomos``, a ``wav_file_name`` header is
    ``xacle``, an ``id,...`` header is ``csv``, a ``sample_id,...`` header ``audiomos-track2``;
    a ``.scp`` file is ``songeval-track1`` with one score per line, else ``songeval-track2``
    (the baseline's order: pass the format to choose the site's).
    """
    path = Path(path)
    if path.suffix.lower() == ".zip":
        return "audiomos"
    first = next(iter(_read_text(path, path.name).splitlines()), "")
    if path.suffix.lower() == ".scp":
        return "songeval-track1" if len(first.split()) == 2 else "songeval-track2"
    head = first.split(",")[0].strip()
    if head == "sample_id":
        return "audiomos-track2"
    if head.lower() in XACLE_NAME_COLUMNS:
        return "xacle"
    if head == "id":  # "ID,OVERALL,TEXTUAL" is a stray header of an answer.txt
        return "csv"
    return "audiomos"


def read_submission(path: str | Path, format: str = "auto") -> pd.DataFrame:
    """Read a prediction file into a DataFrame with ``id`` (store ids) and one column per target.

    Raises :class:`~clapmos.embed.errors.ClapmosError` listing every malformed line (wrong field
    count, values that are not numbers, badly spelt or duplicate ids). NaN values are kept.
    """
    predictions, malformed, _ = _parse(Path(path), _resolve(path, format))
    if malformed:
        raise ClapmosError(_problem_message(path, "cannot be read", malformed))
    return predictions.drop(columns="line")


def is_prediction_file(path: str | Path) -> bool:
    """Whether ``path`` reads as a prediction file of some format (one clapmos may replace)."""
    try:
        read_submission(path)
    except (ClapmosError, UnicodeDecodeError, OSError):
        return False
    return True


def validate_submission(path: str | Path, expected_ids: Iterable[str], format: str = "auto") -> pd.DataFrame:
    """Check a submission against the ids of a split and return its predictions.

    Every problem is reported at once in one :class:`~clapmos.embed.errors.ClapmosError`: malformed
    lines, duplicate ids, non-finite values, missing ids and ids the split does not have.
    """
    predictions, malformed, non_finite = _parse(Path(path), _resolve(path, format))
    found = malformed + non_finite + _id_set_problems(predictions["id"], expected_ids)
    if found:
        raise ClapmosError(_problem_message(path, "is not a valid submission", found))
    return predictions.drop(columns="line")


def write_submission(
    predictions: pd.DataFrame,
    path: str | Path,
    format: str,
    expected_ids: Iterable[str] | None = None,
    targets: list[str] | None = None,
) -> Path:
    """Write ``predictions`` (``id`` plus target columns) as a submission file; return its path.

    The format fixes the targets (``audiomos``: overall, textual; ``xacle``: alignment);
    ``csv`` writes ``targets``, by default every column but ``id``. Refuses (with every
    problem listed) to write duplicate ids, non-finite values or, when ``expected_ids`` is
    given, a set of ids other than exactly those. Values are written with Python's shortest
    round-trip representation, so reading gives them back bit for bit.
    """
    path = Path(path)
    fmt = _format(format)
    if fmt.columns or targets is None:
        targets = fmt.targets(["id", *[c for c in predictions.columns if c != "id"]])
    missing = [c for c in ["id", *targets] if c not in predictions.columns]
    if missing:
        raise ClapmosError(f"cannot write {path} as {fmt.name}: the predictions lack column(s) {missing}")
    frame = predictions[["id", *targets]].reset_index(drop=True)
    frame = frame.assign(id=frame["id"].astype(str), row=np.arange(1, len(frame) + 1))
    problems = _duplicate_problems(frame, "row") + _value_problems(frame, "row")
    if expected_ids is not None:
        problems += _id_set_problems(frame["id"], expected_ids)
    if problems:
        raise ClapmosError(_problem_message(path, "was not written", problems))
    if fmt.delimiter is None and frame["id"].str.contains(r"\s").any():
        raise ClapmosError(f"cannot write {path} as {fmt.name}: ids with whitespace cannot be told apart from scores")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", delimiter=fmt.delimiter or " ")
    if fmt.header:
        writer.writerow(fmt.file_columns(targets))
    for row in frame.itertuples(index=False):
        writer.writerow([fmt.to_file_id(row[0]), *(repr(float(v)) for v in row[1 : 1 + len(targets)])])
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt.name == "audiomos" and path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(ANSWER_NAME, buffer.getvalue())
    else:
        path.write_text(buffer.getvalue(), encoding="utf-8")
    record_file(path)
    return path


def _format(name: str) -> SubmissionFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ClapmosError(f"unknown submission format {name!r}; choose one of: {', '.join(FORMATS)}") from None


def _resolve(path: str | Path, format: str) -> SubmissionFormat:
    return _format(detect_format(path) if format == "auto" else format)


def _read_text(path: Path, label: str) -> str:
    """The text of a prediction file, or of ``answer.txt`` inside a zip."""
    if not path.is_file():
        raise ClapmosError(f"--pred {path}: no such prediction file")
    if path.suffix.lower() != ".zip":
        return path.read_text(encoding="utf-8-sig")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if ANSWER_NAME not in names:
                nested = [n for n in names if n.rsplit("/", 1)[-1] == ANSWER_NAME]
                hint = f"; found {nested[0]}, move it to the top level" if nested else f"; it holds {names[:SHOWN_IDS]}"
                raise ClapmosError(f"{label}: the zip has no {ANSWER_NAME} at its top level{hint}")
            return archive.read(ANSWER_NAME).decode("utf-8-sig")
    except zipfile.BadZipFile:
        raise ClapmosError(f"{label} is not a readable zip file") from None


def _parse(path: Path, fmt: SubmissionFormat) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Rows of the file (``id``, targets, ``line``), its malformed lines and its non-finite values."""
    text = _read_text(path, str(path))
    lines = csv.reader(io.StringIO(text)) if fmt.delimiter else (line.split() for line in text.splitlines())
    rows = [(number, fields) for number, fields in enumerate(lines, start=1) if fields]
    problems: list[str] = []
    header = None
    if fmt.header:
        if not rows:
            raise ClapmosError(f"{path} is empty; a {fmt.name} file starts with a header line")
        number, header = rows.pop(0)
        header = [h.strip() for h in header]
        expected = fmt.file_columns(fmt.targets(header))
        if fmt.name == "xacle" and header and header[0] in XACLE_NAME_COLUMNS:
            expected[0] = header[0]
        if header != expected or len(header) < 2:
            problems.append(f"line {number}: header must be {','.join(expected) if len(expected) > 1 else 'id,<target>,...'}, got {','.join(header)}")
    elif rows and rows[0][1][0].strip().upper() == fmt.id_column:
        problems.append(f"line {rows[0][0]}: {fmt.name} files have no header line; remove it")
        rows.pop(0)
    targets = fmt.targets(header)
    columns = fmt.file_columns(targets)
    width = len(columns)
    records, value_problems = [], []
    for number, fields in rows:
        if len(fields) != width:
            problems.append(f"line {number}: expected {width} fields ({','.join(columns)}), got {len(fields)}")
            continue
        values = []
        for column, text_value in zip(columns[1:], fields[1:]):
            text_value = text_value.strip()
            try:
                value = float(text_value) if text_value else math.nan
            except ValueError:
                problems.append(f"line {number}: {column} value {text_value!r} is not a number")
                continue
            if not math.isfinite(value):
                value_problems.append(f"line {number} ({fields[0].strip()}): {column} is {text_value or 'empty'}, not a finite number")
            values.append(value)
        if len(values) == len(targets):
            records.append([_clip_id(fields[0].strip(), fmt, number, problems), *values, number])
    if not rows:
        problems.append("the file holds no predictions")
    predictions = pd.DataFrame(records, columns=["id", *targets, "line"])
    predictions["id"] = predictions["id"].astype(str)
    problems += _duplicate_problems(predictions, "line")
    return predictions, problems, value_problems


def _clip_id(file_id: str, fmt: SubmissionFormat, number: int, problems: list[str]) -> str:
    """The store id written as ``file_id``; a badly spelt id is recorded as a problem."""
    if not file_id:
        problems.append(f"line {number}: empty id")
    elif fmt.id_suffix and not file_id.endswith(fmt.id_suffix):
        problems.append(f"line {number}: {file_id!r} must be a file name ending in {fmt.id_suffix}")
    elif fmt.name == "audiomos" and file_id.lower().endswith(".wav"):
        problems.append(f"line {number}: {file_id!r} must be written without .wav")
    return file_id.removesuffix(fmt.id_suffix or ".wav")


def _duplicate_problems(frame: pd.DataFrame, where: str) -> list[str]:
    repeated = frame[frame["id"].duplicated(keep=False)]
    return [
        f"{where}s {', '.join(map(str, group[where]))}: id {clip_id!r} appears {len(group)} times"
        for clip_id, group in repeated.groupby("id", sort=False)
    ]


def _value_problems(frame: pd.DataFrame, where: str) -> list[str]:
    problems = []
    for column in frame.columns.drop(["id", where]):
        values = frame[column].to_numpy(dtype=float)
        for position in np.flatnonzero(~np.isfinite(values)):
            problems.append(f"{where} {frame[where].iloc[position]}: {column} is {values[position]}, not a finite number")
    return problems


def _id_set_problems(ids: pd.Series, expected_ids: Iterable[str]) -> list[str]:
    given, expected = set(ids), [str(i) for i in expected_ids]
    missing = [i for i in expected if i not in given]
    extra = sorted(given - set(expected))
    problems = []
    if missing:
        problems.append(f"{len(missing)} expected id(s) missing, e.g. {', '.join(missing[:SHOWN_IDS])}")
    if extra:
        problems.append(f"{len(extra)} id(s) not in the split, e.g. {', '.join(extra[:SHOWN_IDS])}")
    return problems


def _display_name(path: str | Path) -> str:
    """How messages name a file; line numbers of a zip refer to its ``answer.txt``."""
    return f"{path} ({ANSWER_NAME})" if Path(path).suffix.lower() == ".zip" else str(path)


def _problem_message(path: str | Path, verdict: str, problems: list[str]) -> str:
    return f"{_display_name(path)} {verdict}: {len(problems)} problem(s)\n{listing(problems)}"
