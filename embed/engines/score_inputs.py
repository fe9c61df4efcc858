"""What ``score`` reads: audio files, folders of them (searched recursively), and lists of clips.

A list is a CSV or JSON Lines file with a ``path`` column (relative to the list's folder, or
absolute) and, optionally, ``id``, ``text`` (the prompt), ``system`` and ``start_s``/``end_s``
(a segment of a longer file, in seconds; either may be left out for the file's start or end).
Any other column is an error, so that a typo never goes unnoticed. Everything becomes one
table, one row per input, in the order given:

``path``  the file as the user named it (a list's own spelling; ``folder/relative`` for folders)
``file``  its absolute path
``id``, ``text``, ``system``  ``""`` when not given
``start_s``, ``end_s``  NaN when not given
``where``  what names the input in messages (``list.jsonl:3``, or the path)

>>> import tempfile, pathlib, numpy as np, soundfile as sf
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> sf.write(d / "a.wav", np.zeros(16000, np.float32), 16000)
>>> _ = (d / "list.jsonl").write_text('{"path": "a.wav", "system": "S1", "start_s": 0.5}\\n')
>>> inputs = read_score_inputs([d / "list.jsonl", d])
>>> inputs[["system", "start_s", "end_s"]].to_dict("list")
{'system': ['S1', ''], 'start_s': [0.5, nan], 'end_s': [nan, nan]}
>>> audio_problems(inputs)
{}
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from clapmos.embed.audio import FLOAT_SUBTYPES, non_finite_in_file, segment_frames
from clapmos.embed.corpora._parse import Problems, parse_score
from clapmos.embed.corpora.manifest import JSONL_SUFFIXES
from clapmos.embed.corpora.manifest import _records as list_records
from clapmos.embed.errors import ClapmosError, listing

LIST_COLUMNS = ("path", "id", "text", "system", "start_s", "end_s")
LIST_SUFFIXES = (".csv", *JSONL_SUFFIXES)
#: File name endings read as audio in folders: what libsndfile decodes (raw PCM needs its format spelled out, so not it).
AUDIO_SUFFIXES = frozenset({f".{name.lower()}" for name in sf.available_formats() if name != "RAW"} | {".aif", ".oga", ".opus"})
INPUT_COLUMNS = ["path", "file", "id", "text", "system", "start_s", "end_s", "where"]


def read_score_inputs(sources: Sequence[str | Path], system_from: str | None = None) -> pd.DataFrame:
    """One row per input clip named by ``sources`` (audio files, folders, CSV/JSONL lists).

    ``system_from`` names the system of inputs that have none: ``"folder"`` (the folder the
    file is in) or a regular expression searched in the file name (its first group, or the
    whole match). Every source that does not exist, and every file it does not match, is
    named in one error; so are zero inputs.
    """
    rows: list[dict] = []
    missing = []
    for source in sources:
        path = Path(source).expanduser()
        if path.is_dir():
            rows += [_row(str(path / f.relative_to(path)), f, str(path / f.relative_to(path))) for f in audio_files_in(path)]
        elif path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            rows += _list_rows(path)
        elif path.is_file():
            rows.append(_row(str(source), path, str(source)))
        else:
            missing.append(str(source))
    if missing:
        raise ClapmosError(f"{len(missing)} input(s) are neither a file nor a folder:\n{listing(missing)}")
    if not rows:
        shown = ", ".join(map(str, sources)) or "nothing"
        raise ClapmosError(
            f"the inputs ({shown}) hold no audio files ({', '.join(sorted(AUDIO_SUFFIXES)[:6])}, ...). "
            "Give audio files, folders of them, or a .jsonl/.csv list with a `path` column."
        )
    frame = pd.DataFrame(rows, columns=INPUT_COLUMNS)
    if system_from:
        frame = _name_systems(frame, system_from)
    return frame


def unique_inputs(inputs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``inputs`` with each clip once (same file, segment, text and system), and a line per clip given more than once.

    A file named three times and again through its folder is one clip: scored once, and
    counted once in its system's mean and interval.

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"file": ["/a.wav", "/a.wav", "/b.wav"], "where": ["a.wav", "d/a.wav", "b.wav"], "text": "",
    ...                      "system": "", "start_s": float("nan"), "end_s": float("nan")})
    >>> kept, repeated = unique_inputs(rows)
    >>> len(kept), repeated
    (2, ['/a.wav: given 2 times (a.wav, d/a.wav)'])
    """
    columns = inputs[["file", "start_s", "end_s", "text", "system"]].itertuples(index=False)
    key = pd.Series(["\x1f".join(map(str, row)) for row in columns], index=inputs.index)
    repeated = [
        f"{group['file'].iloc[0]}: given {len(group)} times ({', '.join(group['where'])})"
        for _, group in inputs.groupby(key, sort=False) if len(group) > 1
    ]
    return inputs[~key.duplicated()].reset_index(drop=True), repeated


def audio_files_in(folder: Path) -> list[Path]:
    """The audio files under ``folder`` (any depth), sorted; hidden files and folders are left out."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in files if not f.startswith(".") and Path(f).suffix.lower() in AUDIO_SUFFIXES]
    return sorted(found)


def audio_problems(inputs: pd.DataFrame, workers: int = 4) -> dict[int, str]:
    """Per row of ``inputs`` that cannot be scored, why: a missing, unreadable or empty file, samples that are
    not finite (NaN or inf, read for floating-point files only), or a segment outside the file."""

    def header(file: str):  # sf.info(file), or what is wrong with the file
        if not Path(file).is_file():
            return "missing"
        try:
            info = sf.info(file)
            if info.subtype in FLOAT_SUBTYPES and info.frames:
                problem = non_finite_in_file(file)  # block by block
                if problem:
                    return problem
        except Exception as error:  # libsndfile reports format problems as several types
            return f"unreadable ({str(error).strip()})"
        return "empty (0 samples)" if info.frames == 0 else info

    files = list(dict.fromkeys(inputs["file"]))
    with ThreadPoolExecutor(max(1, workers)) as pool:
        headers = dict(zip(files, pool.map(header, files)))
    problems = {}
    for index, row in enumerate(inputs.itertuples(index=False)):
        info = headers[row.file]
        problem = info if isinstance(info, str) else _segment_problem(row.start_s, row.end_s, info.frames, info.samplerate)
        if problem:
            problems[index] = f"{row.where}: {problem}"
    return problems


def _segment_problem(start_s: float, end_s: float, frames: int, rate: int) -> str | None:
    duration = frames / rate
    first, last = segment_frames(start_s, end_s, rate, frames)
    if first >= frames:
        return f"the segment starts at {start_s:g} s, after the end of the file ({duration:.3f} s)"
    if not math.isnan(end_s) and round(end_s * rate) > frames:
        return f"the segment ends at {end_s:g} s, after the end of the file ({duration:.3f} s)"
    if last <= first:
        return f"the segment {start_s:g}–{end_s:g} s holds no audio sample at {rate} Hz"
    return None


def _row(shown: str, file: Path, where: str, **fields) -> dict:
    return {"path": shown, "file": str(Path(os.path.abspath(file))), "id": "", "text": "", "system": "",
            "start_s": math.nan, "end_s": math.nan, "where": where, **fields}


def _list_rows(path: Path) -> list[dict]:
    """The rows of a list file, every malformed value named at once."""
    records = list_records(path)
    columns = list(dict.fromkeys(k for _, record in records for k in record))
    if "path" not in columns:
        raise ClapmosError(f"{path}: no `path` column (columns: {', '.join(columns)}); add one naming each row's audio file.")
    unknown = [c for c in columns if c not in LIST_COLUMNS]
    if unknown:
        raise ClapmosError(
            f"{path}: unknown column(s) {', '.join(unknown)}; a list for `score` has {', '.join(LIST_COLUMNS)} "
            "(only `path` is required). Rename or remove the others."
        )
    rows, problems = [], Problems()
    for line, record in records:
        where = f"{path}:{line}"
        shown = _text(record.get("path"))
        if not shown:
            problems.add(f"{where} path: empty")
            continue
        start, end = (parse_score(record.get(c), where, c, problems, low=0.0) for c in ("start_s", "end_s"))
        if start >= end:  # False when either is NaN
            problems.add(f"{where}: start_s {start:g} is not before end_s {end:g}")
        fields = {c: _text(record.get(c)) for c in ("id", "text", "system")}
        rows.append(_row(shown, path.parent / Path(shown).expanduser(), where, start_s=start, end_s=end, **fields))
    problems.raise_if_any(f"{path}: malformed row(s)", "`path` names an audio file; start_s and end_s are seconds (numbers, start before end).")
    return rows


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()


def _captured(pattern: re.Pattern, name: str) -> str:
    """What ``pattern`` finds in ``name``: its first group, or the whole match; ``""`` when nothing (or nothing but an empty string)."""
    match = pattern.search(name)
    if match is None:
        return ""
    return (match.group(1) if pattern.groups else match.group(0)) or ""


def _name_systems(frame: pd.DataFrame, system_from: str) -> pd.DataFrame:
    """Fill empty ``system`` cells from the file's folder or a pattern in its name."""
    if system_from == "folder":
        found = frame["file"].map(lambda f: Path(f).parent.name)
    else:
        try:
            pattern = re.compile(system_from)
        except re.error as error:
            raise ClapmosError(f"--system-from {system_from!r}: not a regular expression ({error}); use `folder` or e.g. '^(S\\d+)_'.") from None
        found = frame["file"].map(lambda f: _captured(pattern, Path(f).name))
        unmatched = frame["where"][(found == "") & (frame["system"] == "")]
        if len(unmatched):
            raise ClapmosError(
                f"--system-from {system_from!r} matches no part (or only an empty part) of the name of {len(unmatched)} input(s):\n{listing(unmatched)}"
            )
    frame = frame.copy()
    frame["system"] = np.where(frame["system"] == "", found, frame["system"])
    return frame
