"""Reader of the AudioMOS 2025 Track 2 lists (Audiobox Aesthetics axes), ``DATA.md`` §5.

``audiomos2025_track2/audiomos2025-track2-{train,dev}_list.csv`` (header
``sample_id,data_path,Production_Quality,Production_Complexity,Content_Enjoyment,Content_Usefulness``)
give splits ``train`` and ``dev``; each score is the mean of 10 ratings rounded to one decimal,
and is the label as published. When ``evaluation_data/AES_natural_*.jsonl`` sit beside the
folder, the ten single ratings per axis are joined on ``data_path`` (the lists are exactly
those clips). Audio: ``data_path`` with ``/your_path/`` replaced as for ``audiobox-aes``.

Split ``eval`` (inferred from participants' scripts): ids from
``audiomos2025-track2-eval-phase/DATA/sets/eval_list.txt``, audio ``DATA/wav/<id>.wav``,
labels from ``audiomos2025_track2_human_annotations.jsonl`` (its ``data_path`` is the id)
when present, else unknown. The system of an eval clip is its ``sys…`` token.

>>> eval_system("audiomos2025-track2-sys00012-utt00007")
'sys00012'
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from clapmos.embed.corpora._parse import (
    Problems,
    build_corpus,
    check_audio,
    check_unique_ids,
    choose_splits,
    csv_rows,
    jsonl_records,
    parse_score,
    resolve_audio,
)
from clapmos.embed.corpora.audiobox import axis_ratings_table, read_axis_ratings, relative_data_path
from clapmos.embed.corpora.formats import AUDIOBOX_KEYS, AUDIOBOX_SCORE_RANGE, AUDIOBOX_TARGETS, TRACK2_PREFIX
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.errors import ClapmosError, listing

FOLDER = "audiomos2025_track2"
ANNOTATIONS = "audiomos2025_track2_human_annotations.jsonl"
EVAL_LIST = Path("audiomos2025-track2-eval-phase/DATA/sets/eval_list.txt")


def eval_system(clip_id: str) -> str:
    """The ``sys…`` token of an evaluation-phase id (``""`` when it has none)."""
    match = re.search(r"(sys\d+)", clip_id)
    return match.group(1) if match else ""


def read_audiomos_track2(root: Path, splits: list[str] | None = None) -> Corpus:
    """Read the Track 2 lists (``train``, ``dev``) and the evaluation phase (``eval``) found under ``root``.

    Examples
    --------
    >>> corpus = read_audiomos_track2(Path("audiobox-aesthetics"), splits=["dev"])  # doctest: +SKIP
    >>> corpus.targets  # doctest: +SKIP
    ['PQ', 'PC', 'CE', 'CU']
    """
    root = Path(root).absolute()
    if root.name == FOLDER:
        root = root.parent
    lists = {s: root / FOLDER / f"{TRACK2_PREFIX}{s}_list.csv" for s in ("train", "dev")}
    lists = {s: p for s, p in lists.items() if p.is_file()}
    eval_list = next((base / EVAL_LIST for base in (root, root.parent) if (base / EVAL_LIST).is_file()), None)
    available = list(lists) + (["eval"] if eval_list else [])
    if not available:
        raise ClapmosError(
            f"expected {root}/{FOLDER}/{TRACK2_PREFIX}train_list.csv (and dev_list.csv) or {root}/{EVAL_LIST}, found none. "
            f"Pass --root the folder that holds {FOLDER}/."
        )
    chosen = choose_splits("audiomos-track2", available, splits)
    problems = Problems()
    single = _single_ratings(root, problems)
    clips = []
    for split in chosen:
        clips += _read_eval(eval_list, root, problems) if split == "eval" else _read_list(lists[split], split, root, single, problems)
    problems.raise_if_any("bad AudioMOS Track 2 row(s), expected 0–10 scores per axis", "Fix these lines and retry.")
    check_unique_ids([c["id"] for c in clips], [c["where"] for c in clips])
    check_audio([c["path"] for c in clips], f"{root}/<data_path after /your_path/> and the eval phase's DATA/wav/")
    items = {
        "id": [c["id"] for c in clips], "path": [str(c["path"]) for c in clips], "text": [""] * len(clips),
        "system": [c["system"] for c in clips], "split": [c["split"] for c in clips],
    }
    labels = {t: [c["labels"][t] for c in clips] for t in AUDIOBOX_TARGETS}
    ratings = axis_ratings_table([c["axes"] for c in clips])
    return build_corpus("audiomos-track2", items, labels, ratings, AUDIOBOX_TARGETS, root, [])


def _single_ratings(root: Path, problems: Problems) -> dict[str, dict[str, list[float]]]:
    """``data_path -> axis ratings`` from the AES-Natural JSONL files beside the folder (empty if absent)."""
    found = {}
    for path in sorted((root / "evaluation_data").glob("AES_natural_*.jsonl")):
        for where, record in jsonl_records(path):
            if isinstance(record.get("data_path"), str):
                found[record["data_path"].strip()] = read_axis_ratings(where, record, problems)
    return found


def _read_list(path: Path, split: str, root: Path, single: dict, problems: Problems) -> list[dict]:
    rows = list(csv_rows(path))
    expected = ["sample_id", "data_path", *AUDIOBOX_KEYS]
    if not rows or [f.lower() for f in rows[0].fields] != [e.lower() for e in expected]:
        raise ClapmosError(f"{path}:1: expected the header {','.join(expected)}, got {rows[0].fields if rows else 'an empty file'}.")
    clips = []
    for row in rows[1:]:
        if len(row.fields) != len(expected):
            problems.add(f"{row.where}: {len(row.fields)} field(s), expected {len(expected)}")
            continue
        sample_id, data_path, *scores = row.fields
        labels = {t: parse_score(v, row.where, key, problems, *AUDIOBOX_SCORE_RANGE, required=True)
                  for (key, t), v in zip(AUDIOBOX_KEYS.items(), scores)}
        path_of = resolve_audio(relative_data_path(data_path), [root, root.parent])
        axes = single.get(data_path, {t: [] for t in AUDIOBOX_TARGETS})
        clips.append({"id": sample_id, "path": path_of, "split": split, "system": "", "where": row.where, "labels": labels, "axes": axes})
    return clips


def _read_eval(eval_list: Path, root: Path, problems: Problems) -> list[dict]:
    data = eval_list.parent.parent
    truth: dict[str, dict[str, list[float]]] = {}
    annotations = root / FOLDER / ANNOTATIONS
    if annotations.is_file():
        for where, record in jsonl_records(annotations):
            truth[str(record.get("data_path", "")).strip()] = read_axis_ratings(where, record, problems)
    clips = []
    for number, line in enumerate(eval_list.read_text(encoding="utf-8-sig").splitlines(), start=1):
        clip_id = line.strip().removesuffix(".wav")
        if not clip_id:
            continue
        axes = truth.get(clip_id, {t: [] for t in AUDIOBOX_TARGETS})
        labels = {t: (sum(v) / len(v) if v else math.nan) for t, v in axes.items()}
        clips.append({"id": clip_id, "path": data / "wav" / f"{clip_id}.wav", "split": "eval", "system": eval_system(clip_id),
                      "where": f"{eval_list}:{number}", "labels": labels, "axes": axes})
    unknown = sorted(set(truth) - {c["id"] for c in clips})
    if unknown:
        raise ClapmosError(f"{annotations}: {len(unknown)} labelled id(s) are not in {eval_list}:\n{listing(unknown)}")
    return clips
