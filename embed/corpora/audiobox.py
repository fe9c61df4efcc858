"""Reader of the Audiobox Aesthetics evaluation sets (four axes, ten 0–10 ratings each), ``DATA.md`` §5.

``evaluation_data/AES_<name>.jsonl`` holds one object per clip: ``data_path`` and the axes
``Production_Quality``, ``Production_Complexity``, ``Content_Enjoyment`` and
``Content_Usefulness``, each a list of (10) ratings on 0–10. The targets are ``PQ``, ``PC``,
``CE`` and ``CU``, each clip's label the mean of its ratings. Each file is one split, named
after it: ``speech``, ``music``, ``sound`` (``AES_natural_*``) and ``pam`` (``AES_PAM``).

No audio is shipped: ``data_path`` starts with the placeholder ``/your_path/``, which is
replaced by ``--root`` (the folder holding ``evaluation_data/`` and the source corpora, e.g.
``MUSDB18/``), then by the folder above it; a path already made absolute by the user is used
as is. A clip's id is its path after the placeholder, without extension; its system is the
source corpus (the first folder), for PAM the generating system (the audio file's folder).

Assumed (not found in the sources): rater ids are not released, so ratings are stored with an
empty listener, and the i-th rating of the four axes is taken as one annotator's row.

>>> relative_data_path("/your_path/MUSDB18/test/song/bass.wav")
'MUSDB18/test/song/bass.wav'
"""

from __future__ import annotations

import math
from pathlib import Path

from clapmos.embed.corpora._parse import (
    Problems,
    build_corpus,
    check_audio,
    check_unique_ids,
    choose_splits,
    jsonl_records,
    ordered_splits,
    parse_score,
    resolve_audio,
)
from clapmos.embed.corpora.formats import AUDIOBOX_KEYS, AUDIOBOX_SCORE_RANGE, AUDIOBOX_TARGETS
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.errors import ClapmosError

PLACEHOLDER = "/your_path/"


def relative_data_path(data_path: str) -> str:
    """``data_path`` without the ``/your_path/`` placeholder (unchanged when it has none)."""
    return data_path.removeprefix(PLACEHOLDER) if data_path.startswith(PLACEHOLDER) else data_path


def split_name(jsonl: Path) -> str:
    """The split a file of ``evaluation_data/`` becomes: ``AES_natural_music.jsonl`` → ``music``."""
    return jsonl.stem.removeprefix("AES_").removeprefix("natural_").lower()


def read_axis_ratings(where: str, record: dict, problems: Problems) -> dict[str, list[float]]:
    """The four axes' rating lists of one JSONL object (every bad value named in ``problems``)."""
    axes = {}
    for key, target in AUDIOBOX_KEYS.items():
        values = record.get(key)
        if isinstance(values, (int, float)) and not isinstance(values, bool):
            values = [values]
        if not isinstance(values, list) or not values:
            problems.add(f"{where} {key}: {'missing' if values is None else 'not a list of ratings'}")
            axes[target] = []
            continue
        axes[target] = [parse_score(v, where, f"{key}[{i}]", problems, *AUDIOBOX_SCORE_RANGE, required=True) for i, v in enumerate(values)]
    return axes


def axis_ratings_table(axes_per_clip: list[dict[str, list[float]]]) -> dict[str, list]:
    """Long ratings (``item``, ``listener`` empty, one column per axis): row i of a clip holds every axis's i-th rating."""
    ratings: dict[str, list] = {"item": [], "listener": [], **{t: [] for t in AUDIOBOX_TARGETS}}
    for item, axes in enumerate(axes_per_clip):
        for i in range(max((len(v) for v in axes.values()), default=0)):
            ratings["item"].append(item)
            ratings["listener"].append("")
            for t in AUDIOBOX_TARGETS:
                ratings[t].append(axes[t][i] if i < len(axes[t]) else math.nan)
    return ratings


def mean(values: list[float]) -> float:
    """Mean of the known values (NaN when none)."""
    known = [v for v in values if not math.isnan(v)]
    return sum(known) / len(known) if known else math.nan


def read_audiobox_aes(root: Path, splits: list[str] | None = None) -> Corpus:
    """Read ``evaluation_data/AES_*.jsonl`` under ``root`` (or ``root`` itself being ``evaluation_data/``).

    Examples
    --------
    >>> corpus = read_audiobox_aes(Path("audiobox-aesthetics"), splits=["music"])  # doctest: +SKIP
    >>> corpus.targets  # doctest: +SKIP
    ['PQ', 'PC', 'CE', 'CU']
    """
    root = Path(root).absolute()
    data = root if root.name == "evaluation_data" or not (root / "evaluation_data").is_dir() else root / "evaluation_data"
    audio_root = data.parent if data.name == "evaluation_data" else data
    files = sorted(data.glob("AES_*.jsonl")) if data.is_dir() else []
    if not files:
        raise ClapmosError(
            f"expected the Audiobox Aesthetics files {data}/AES_*.jsonl (AES_natural_music.jsonl, ...), found none. "
            "Pass --root the folder that holds evaluation_data/ (and the source corpora's audio)."
        )
    by_split = {split_name(f): f for f in files}
    by_split = {s: by_split[s] for s in ordered_splits(list(by_split), ["speech", "music", "sound", "pam"])}
    chosen = choose_splits("audiobox-aes", list(by_split), splits)
    problems = Problems()
    clips = []
    for split in chosen:
        pam = "pam" in split
        for where, record in jsonl_records(by_split[split]):
            data_path = record.get("data_path")
            if not isinstance(data_path, str) or not data_path.strip():
                problems.add(f"{where}: no data_path")
                continue
            relative = relative_data_path(data_path.strip())
            clip_path = resolve_audio(relative, [audio_root, audio_root.parent])
            parts = Path(relative).parts
            system = (Path(relative).parent.name if pam else parts[0].strip("/")) if len(parts) > 1 else ""
            clips.append({"id": str(Path(relative).with_suffix("")).lstrip("/"), "path": clip_path, "split": split,
                          "system": system, "where": where, "axes": read_axis_ratings(where, record, problems)})
    problems.raise_if_any("bad Audiobox Aesthetics record(s), expected data_path and lists of 0–10 ratings per axis", "Fix these lines and retry.")
    check_unique_ids([c["id"] for c in clips], [c["where"] for c in clips])
    check_audio([c["path"] for c in clips], f"{audio_root}/<data_path after {PLACEHOLDER}>",
                f"Put the source corpora's audio under {audio_root} so that {PLACEHOLDER} can be replaced by it.")
    items = {
        "id": [c["id"] for c in clips], "path": [str(c["path"]) for c in clips], "text": [""] * len(clips),
        "system": [c["system"] for c in clips], "split": [c["split"] for c in clips],
    }
    labels = {t: [mean(c["axes"][t]) for c in clips] for t in AUDIOBOX_TARGETS}
    ratings = axis_ratings_table([c["axes"] for c in clips])
    return build_corpus("audiobox-aes", items, labels, ratings, AUDIOBOX_TARGETS, audio_root, [])
