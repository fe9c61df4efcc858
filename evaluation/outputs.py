"""Result files that ``score`` and ``runs`` write next to the user's own files.

Each file is written whole (to a hidden temporary name, then renamed) and an existing file
is replaced only when it is recognisably one of these outputs, so a user's file that happens
to have the same name is never overwritten. What is recognised, by its first bytes:

* scores: a ``.csv`` whose header starts with ``path`` and has a ``<target>_std`` column,
  or a ``.jsonl`` whose first object has ``path`` and a ``<target>_std`` key;
* tables: a ``.csv`` or ``.md`` whose header is the one clapmos writes for that table;
* plots: a ``.png`` carrying the ``Software: clapmos`` mark (:data:`clapmos.evaluation.plots.PNG_MARK`).

>>> import tempfile, pathlib, pandas as pd
>>> path = pathlib.Path(tempfile.mkdtemp()) / "scores.jsonl"
>>> write_scores(pd.DataFrame({"path": ["a.wav"], "overall": [3.5], "overall_std": [float("nan")]}), path)
>>> print(path.read_text(), end="")
{"path":"a.wav","overall":3.5,"overall_std":null}
>>> _ = path.write_text("my notes"); check_replaceable({path: "scores"})
Traceback (most recent call last):
clapmos.embed.errors.ClapmosError: these files exist and were not written by clapmos; it will not replace them:
  ...scores.jsonl
Choose another --out (or move them away).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from clapmos.embed.errors import ClapmosError, listing

SCORE_SUFFIXES = (".csv", ".jsonl")


def check_replaceable(paths: Mapping[Path, str]) -> None:
    """Refuse, naming them all, existing files of ``{path: kind}`` that are not clapmos outputs of that kind.

    Kinds: ``scores``, ``png``, or ``table:<header>`` (a CSV or Markdown table whose first
    line starts with ``<header>``).
    """
    foreign = [str(path) for path, kind in paths.items() if path.exists() and not _recognised(path, kind)]
    if foreign:
        raise ClapmosError(
            f"these files exist and were not written by clapmos; it will not replace them:\n{listing(foreign)}\n"
            "Choose another --out (or move them away)."
        )


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
    finally:
        tmp.unlink(missing_ok=True)


def _recognised(path: Path, kind: str) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if kind == "png":
        return head.startswith(b"\x89PNG") and b"Software\x00clapmos" in head
    first = head.decode("utf-8", errors="replace").splitlines()[0] if head else ""
    if kind.startswith("table:"):
        return first.startswith(kind.removeprefix("table:"))
    if path.suffix.lower() == ".jsonl":
        try:
            record = json.loads(first)
        except json.JSONDecodeError:
            return False
        return isinstance(record, dict) and "path" in record and any(str(k).endswith("_std") for k in record)
    columns = first.split(",")
    return columns[0] == "path" and any(c.endswith("_std") for c in columns)
