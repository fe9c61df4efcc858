"""Where the true scores come from: a store's split, a MusicEval list or a XACLE average CSV.

Every source becomes one :class:`Truth`: a table of clips (``id``, ``system`` and one
column per target; ``system`` is ``""`` when unknown) and, optionally, given true system
means (MusicEval's ``system_mos_phase1.csv``) for the system level.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "dev_mos_list.txt"
>>> _ = path.write_text("audiomos2025-track1-S002_P044.wav,4.8,4.0\\n")
>>> read_truth_file(path).clips
                              id system  overall  textual
0  audiomos2025-track1-S002_P044   S002      4.8      4.0
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from clapmos.embed.corpora.formats import MUSICEVAL_PREFIX, MUSICEVAL_TARGETS, XACLE_NAME_COLUMNS, XACLE_TARGET
from clapmos.embed.errors import ClapmosError, listing



@dataclass(frozen=True)
class Truth:
    """True scores of the clips of one split, and optionally given true system means."""

    clips: pd.DataFrame
    targets: list[str]
    source: str
    system_means: pd.DataFrame | None = None
    prompts: pd.Series | None = None  # prompt (text) of every clip, indexed by id, when the source knows it
    corpus: str = ""  # the store's corpus layout: picks its benchmark's metrics (songeval: Top-Tier Accuracy)
    comparisons: pd.DataFrame | None = None  # pairwise votes among the clips: id_a, id_b, vote, dimension, ...

    @property
    def labelled(self) -> bool:
        """Whether any true score is known (clip scores, given system means or pairwise votes)."""
        return (
            self.system_means is not None
            or bool(self.clips[self.targets].notna().any().any())
            or (self.comparisons is not None and len(self.comparisons) > 0)
        )

    def with_system_means(self, means: pd.DataFrame) -> "Truth":
        """The same truth, with the system level scored against ``means``."""
        return replace(self, system_means=means)


def truth_from_store(path: str | Path, split: str | list[str]) -> Truth:
    """The clips of ``split`` (one name or several) in the feature store at ``path``, with their labels (NaN where unknown)."""
    from clapmos.embed.store import FeatureStore

    store = FeatureStore.open(path)
    items, labels = store.items(split), store.labels(split)  # labels come back as published decimals
    clips = pd.concat([items[["id", "system"]], labels], axis=1).reset_index(drop=True)
    clips["system"] = clips["system"].fillna("").astype(str)
    prompts = pd.Series(items["text"].to_numpy(dtype=object), index=items["id"].to_numpy())
    prompts = prompts if (prompts != "").all() else None
    comparisons = store.comparisons(split)
    return Truth(clips, list(store.targets), f"{path} split {split if isinstance(split, str) else '+'.join(split)}", prompts=prompts,
                 corpus=store.corpus, comparisons=comparisons if len(comparisons) else None)


def read_truth_file(path: str | Path) -> Truth:
    """Read a MusicEval ``*_mos_list.txt`` or a XACLE ``*_average.csv``, told apart by the header.

    Id lists without scores (MusicEval's ``eval_list.txt``, XACLE's ``test.csv``) give
    unknown (NaN) scores: enough to check that a submission covers the split.
    """
    path = Path(path)
    if not path.is_file():
        raise ClapmosError(f"--truth {path}: no such truth file")
    rows = [(n, [f.strip() for f in fields]) for n, fields in enumerate(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))), 1) if fields]
    if not rows:
        raise ClapmosError(f"truth file {path} is empty")
    if rows[0][1][0].lower() in XACLE_NAME_COLUMNS:
        return _xacle_average(path, rows)
    return _musiceval_list(path, rows)


def read_system_truth(path: str | Path) -> pd.DataFrame:
    """MusicEval's ``system_mos_phase1.csv`` (no header, ``SYSTEM_ID,OVERALL,TEXTUAL``), indexed by system."""
    path = Path(path)
    if not path.is_file():
        raise ClapmosError(f"--system-truth {path}: no such file")
    records, problems = [], []
    for number, fields in enumerate(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))), 1):
        if fields:
            values = _numbers(fields, 3, number, problems)
            if values is not None:
                records.append([fields[0].strip(), *values])
    _raise_problems(path, problems, "SYSTEM_ID,OVERALL,TEXTUAL")
    return pd.DataFrame(records, columns=["system", *MUSICEVAL_TARGETS]).set_index("system")


def _musiceval_list(path: Path, rows: list[tuple[int, list[str]]]) -> Truth:
    records, problems = [], []
    for number, fields in rows:
        # an evaluation-phase eval_list.txt has ids only: its scores are unknown
        values = [math.nan, math.nan] if len(fields) == 1 else _numbers(fields, 3, number, problems)
        if values is None:
            continue
        clip_id = fields[0].removesuffix(".wav")
        key = clip_id.removeprefix(MUSICEVAL_PREFIX)
        if "_" not in key:
            problems.append(f"line {number}: {fields[0]!r} is not a MusicEval name like {MUSICEVAL_PREFIX}S002_P044.wav")
            continue
        records.append([clip_id, key.split("_", 1)[0], *values, number])
    clips = _clip_table(path, records, MUSICEVAL_TARGETS, problems, "WAVFILE,OVERALL,TEXTUAL (MusicEval list, no header) or ids only")
    return Truth(clips, list(MUSICEVAL_TARGETS), str(path))


def _xacle_average(path: Path, rows: list[tuple[int, list[str]]]) -> Truth:
    (_, header), body = rows[0], rows[1:]
    # test.csv of the challenge phase has no average_score: its scores are unknown
    column = header.index("average_score") if "average_score" in header else None
    records, problems = [], []
    for number, fields in body:
        if len(fields) != len(header):
            problems.append(f"line {number}: expected {len(header)} fields, got {len(fields)} (quote texts that contain commas)")
            continue
        values = [math.nan] if column is None else _numbers([fields[0], fields[column]], 2, number, problems)
        if values is not None:
            records.append([fields[0].removesuffix(".wav"), "", *values, number])
    clips = _clip_table(path, records, [XACLE_TARGET], problems, ",".join(header))
    return Truth(clips, [XACLE_TARGET], str(path))


def _clip_table(path: Path, records: list[list], targets: list[str], problems: list[str], layout: str) -> pd.DataFrame:
    """The clips read from a truth file; raises with every malformed line and repeated id."""
    clips = pd.DataFrame(records, columns=["id", "system", *targets, "line"])
    repeated = clips[clips["id"].duplicated(keep=False)]
    problems += [
        f"lines {', '.join(map(str, group['line']))}: id {clip_id!r} appears {len(group)} times"
        for clip_id, group in repeated.groupby("id", sort=False)
    ]
    _raise_problems(path, problems, layout)
    return clips.drop(columns="line")


def _numbers(fields: list[str], width: int, number: int, problems: list[str]) -> list[float] | None:
    """The numeric fields after the first, or ``None`` with the problem recorded."""
    if len(fields) != width:
        problems.append(f"line {number}: expected {width} fields, got {len(fields)}")
        return None
    try:
        return [float(f) if f else math.nan for f in fields[1:]]
    except ValueError:
        problems.append(f"line {number}: {','.join(fields[1:])!r} are not all numbers")
        return None


def _raise_problems(path: Path, problems: list[str], layout: str) -> None:
    if problems:
        raise ClapmosError(f"{path}: {len(problems)} malformed line(s); expected {layout}\n{listing(problems)}")
