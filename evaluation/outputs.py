"""Result files that ``score`` and ``runs`` write next to the user's own files.

Each file is written whole (to a hidden temporary name, then renamed) and recorded with its
sha256 in the folder's record (:mod:`clapmos.embed.ownership`); an existing file is replaced
only when that record says clapmos wrote it and it is unchanged since, so a user's file that
happens to have the same name (or an output the user edited) is never overwritten.

>>> import tempfile, pathlib, pandas as pd
>>> from clapmos.embed.ownership import check_replaceable
>>> path = pathlib.Path(tempfile.mkdtemp()) / "scores.jsonl"
>>> write_scores(pd.DataFrame({"path": ["a.wav"], "overall": [3.5], "overall_std": [float("nan")]}), path)
>>> print(path.read_text(), end="")
{"path":"a.wav","overall":3.5,"overall_std":null}
>>> check_replaceable([path])  # ours, unchanged: may be replaced
>>> _ = path.write_text("my notes"); check_replaceable([path])
Traceback (most recent call last):
clapmos.embed.errors.ClapmosError: --out: clapmos did not write these, or they changed since it did; they are left as they are:
  ...scores.jsonl (changed since clapmos wrote it)
Choose another name (or move them away).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from clapmos.embed.ownership import record_file

SCORE_SUFFIXES = (".csv", ".jsonl")


def write_scores(scores: pd.DataFrame, path: Path) -> None:
    """Write one row per input: ``.jsonl`` (NaN as ``null``) or ``.csv`` (NaN as an empty cell); numbers to the last digit."""
    if path.suffix.lower() == ".jsonl":  # json writes floats by repr: every digit survives, unlike DataFrame.to_json
        records = scores.astype(object).where(scores.notna(), None).to_dict("records")
        text = "".join(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records)
        _write_whole(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    else:
        _write_whole(path, lambda tmp: scores.to_csv(tmp, index=False))


def write_table(table: pd.DataFrame, path: Path) -> None:
    """Write a table as CSV."""
    _write_whole(path, lambda tmp: table.to_csv(tmp, index=False))


def write_text(text: str, path: Path) -> None:
    """Write a text file (a Markdown table)."""
    _write_whole(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_plot(draw: Callable[[Path], Path], path: Path) -> None:
    """Write a figure through ``draw(path)`` (a function of :mod:`clapmos.evaluation.plots`)."""
    _write_whole(path, lambda tmp: draw(Path(tmp)), suffix=path.suffix)


def _write_whole(path: Path, write: Callable[[str], object], suffix: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial{suffix}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
        record_file(path)
    finally:
        tmp.unlink(missing_ok=True)
