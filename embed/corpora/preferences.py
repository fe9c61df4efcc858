"""Reader of pairwise preference votes (CMI-Pref / CMI-RewardBench, Music Arena), ``DATA.md`` §6.

One row (or file) is one human vote between two clips; votes are kept as they are, not
aggregated (a pair can recur). Every distinct audio file becomes an item (its text: the
prompt of its first vote; its system: the generator the vote names), and every vote a row of
the corpus's comparisons with the label *as published* (scoring rules differ per benchmark,
see :mod:`clapmos.evaluation.pairwise`). The targets are the judged dimensions, unlabelled
(NaN) unless rating rows give clips a score of their own.

Two layouts, told apart by the folder:

Music Arena (``battle_data/`` in ``--root``)
    ``battle_data/<period>/<log>.json``, one battle per file: ``audio_a``/``audio_b``
    (``audio_files/<period>/<file>.mp3``, relative to ``--root``), ``system_a``/``system_b``,
    ``prompt``, ``user_pseudonym`` (the voter), ``preference`` ∈ ``A``, ``B``, ``TIE``,
    ``BOTH_BAD``. Dimension ``preference``; the split is the period (``01-2025JULAUG``).
    Battles of non-public systems have no audio and are skipped (counted in the notes).
CMI-Pref / CMI-RewardBench (JSON lines)
    ``cmi_train.jsonl`` and ``cmi_test.jsonl`` (splits ``train``, ``test``), else
    ``cmi_data.jsonl``, ``all_test.jsonl`` or ``--root`` a ``.jsonl`` file, split from each
    row's ``split`` (default: the file's stem). CMI-Pref-Pseudo's layout was not verified: with
    none of those names, every ``.jsonl`` in ``--root`` or its ``data/`` is read with the same
    columns (assumed), split from ``split`` or the file stem before any ``-`` (``train-00000.jsonl``
    → ``train``); its parquet files need converting to JSON lines first. Columns (inferred from a viewer mirror):
    ``audio-path`` (A; ``audio_path``/``audio_a`` accepted), ``audio2`` (B; ``audio_b``),
    ``prompt``, ``user id`` (``user_id``), ``model_a``/``model_b``, and one label per
    ``preference-<dimension>`` column (``preference`` alone: dimension ``preference``) with
    its ``confidence_preference-<dimension>`` (1–5). Labels ``a``/``model_a``, ``b``/``model_b``,
    ``both``, ``neither``, ``tie``, ``TIE``, ``BOTH_BAD`` are accepted, any case; an empty label is
    no vote. A row with one clip and a ``musicality`` or ``text-music alignment`` score
    (CMI-RewardBench's PAM and MusicEval subsets) labels that clip (targets ``musicality``,
    ``alignment``): a store of ratings and votes together. Other rows without a second clip are skipped.
    Audio paths (``cmi-pref/gen-audio/….mp3``) resolve against the file's folder or the two
    folders above it, or (without the path's first part) the file's folder or the one above it.

A clip in votes of several splits goes to the most held-out one (test, then dev/val); a
split's comparisons are those whose two clips are both in it.

>>> canonical_vote(" Model_A "), canonical_vote("BOTH_BAD"), canonical_vote("maybe")
('a', 'both_bad', None)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from clapmos.embed.corpora._parse import (
    Problems,
    build_corpus,
    check_audio,
    choose_splits,
    jsonl_records,
    parse_score,
    read_text,
    resolve_audio,
    warn,
)
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.errors import ClapmosError, listing

VOTES = {"a": "a", "model_a": "a", "b": "b", "model_b": "b", "tie": "tie", "both": "both", "neither": "neither", "both_bad": "both_bad"}
HELD_OUT = {"test": 3, "eval": 3, "dev": 2, "val": 2, "validation": 2}  # a clip of several splits goes to the highest
CMI_FILES = (("cmi_train.jsonl", "train"), ("cmi_test.jsonl", "test"))
SINGLE_FILES = ("cmi_data.jsonl", "all_test.jsonl")
RATING_COLUMNS = {"musicality": "musicality", "text-music alignment": "alignment"}  # CMI-RewardBench's rating rows
A_COLUMNS, B_COLUMNS = ("audio-path", "audio_path", "audio_a"), ("audio2", "audio_b", "audio-path2")
VOTER_COLUMNS = ("user id", "user_id", "user_pseudonym")


def canonical_vote(label: object) -> str | None:
    """The label lower-cased and stripped if it is a known vote (``model_a`` → ``a``), else ``None``."""
    return VOTES.get(str(label).strip().lower()) if isinstance(label, str) else None


class _Votes:
    """Items and comparisons collected while reading, in first-seen order."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.items: dict[str, list] = {"id": [], "path": [], "text": [], "system": [], "split": []}
        self.rows: dict[str, list] = {c: [] for c in ("a", "b", "prompt", "vote", "voter", "dimension", "confidence")}
        self.wheres: list[str] = []
        self.scores: dict[str, dict[int, float]] = {}  # target -> item -> score, from rating rows

    def item(self, path: Path, text: str, system: str, split: str, clip_id: str = "") -> int:
        key = str(path)
        if key not in self.index:
            self.index[key] = len(self.index)
            for column, value in zip(self.items, (clip_id or path.stem, key, text, system, split)):
                self.items[column].append(value)
        i = self.index[key]
        if HELD_OUT.get(split, 0) > HELD_OUT.get(self.items["split"][i], 0):
            self.items["split"][i] = split
        return i

    def add(self, a: int, b: int, prompt: str, vote: str, voter: str, dimension: str, confidence: float, where: str) -> None:
        for column, value in zip(self.rows, (a, b, prompt, vote, voter, dimension, confidence)):
            self.rows[column].append(value)
        self.wheres.append(where)

    def unique_ids(self) -> None:
        """Clip ids are file stems; stems shared by several files get their folder (``<period>/<stem>``), or their path."""
        for spell in (lambda p: f"{Path(p).parent.name}/{Path(p).stem}", lambda p: str(Path(p).with_suffix(""))):
            ids = self.items["id"]
            counts = {i: ids.count(i) for i in set(ids)}
            self.items["id"] = [spell(p) if counts[i] > 1 else i for i, p in zip(ids, self.items["path"])]


def read_preferences(root: Path, splits: list[str] | None = None) -> Corpus:
    """Read Music Arena battles or CMI-Pref / CMI-RewardBench votes from ``root``.

    Examples
    --------
    >>> corpus = read_preferences(Path("cmi-pref"), splits=["test"])  # doctest: +SKIP
    >>> corpus.comparisons.columns.tolist()  # doctest: +SKIP
    ['a', 'b', 'prompt', 'vote', 'voter', 'dimension', 'confidence']
    """
    root = Path(root).absolute()
    votes, notes, problems = _Votes(), [], Problems()
    if root.is_dir() and (root / "battle_data").is_dir():
        _read_arena(root, votes, notes, problems)
    else:
        for path, default_split in _jsonl_files(root):
            _read_cmi(path, default_split, votes, notes, problems)
    problems.raise_if_any("bad preference vote(s)", "Fix or remove these rows and retry.")
    if not votes.wheres and not votes.scores:
        raise ClapmosError(f"{root}: no pairwise votes found (every row lacked a second clip or a label).")
    check_audio([Path(p) for p in votes.items["path"]], str(root))
    votes.unique_ids()
    available = list(dict.fromkeys(votes.items["split"]))
    chosen = choose_splits("preferences", available, splits)
    targets = list(dict.fromkeys([*votes.rows["dimension"], *votes.scores]))
    n = len(votes.items["id"])
    labels = {t: [votes.scores.get(t, {}).get(i, math.nan) for i in range(n)] for t in targets}
    corpus = build_corpus("preferences", votes.items, labels, {}, targets, root, notes, votes.rows)
    return corpus.subset(chosen if chosen != available else None)


def _jsonl_files(root: Path) -> list[tuple[Path, str]]:
    if root.is_file():
        return [(root, root.stem)]
    pairs = [(root / name, split) for name, split in CMI_FILES if (root / name).is_file()]
    if pairs:
        return pairs
    single = [(root / name, Path(name).stem) for name in SINGLE_FILES if (root / name).is_file()]
    if single:
        return single[:1]
    other = sorted(p for folder in (root, root / "data") if folder.is_dir() for p in folder.glob("*.jsonl"))  # CMI-Pref-Pseudo (assumed)
    if other:
        return [(path, path.stem.split("-")[0]) for path in other]
    raise ClapmosError(
        f"expected Music Arena's {root}/battle_data/, or CMI-Pref's {root}/cmi_train.jsonl and cmi_test.jsonl "
        "(or cmi_data.jsonl, all_test.jsonl, or any .jsonl in it or its data/), found none. Pass --root that folder, or a .jsonl file of votes."
    )


def _field(record: dict, names: tuple[str, ...]) -> str:
    value = next((record[n] for n in names if record.get(n) not in (None, "")), "")
    return str(value).strip()


def _cmi_audio(relative: str, folder: Path) -> Path:
    parts = Path(relative).parts
    bases = [folder, folder.parent, folder.parent.parent]  # the file's folder, or above it (a data/ folder of shards)
    path = resolve_audio(relative, bases)
    if not path.is_file() and len(parts) > 1 and not Path(relative).is_absolute():
        for base in bases[:2]:
            stripped = base / Path(*parts[1:])
            if stripped.is_file():
                return stripped
    return path


def _read_cmi(path: Path, default_split: str, votes: _Votes, notes: list[str], problems: Problems) -> None:
    folder, skipped = path.parent, 0
    for where, record in jsonl_records(path):
        a_path, b_path = _field(record, A_COLUMNS), _field(record, B_COLUMNS)
        labels = {k: v for k, v in record.items() if k.startswith("preference")}
        rated = {t: record[k] for k, t in RATING_COLUMNS.items() if record.get(k) not in (None, "")}
        if a_path and not b_path and rated:  # a clip rated on its own (CMI-RewardBench's PAM and MusicEval rows)
            split = str(record.get("split") or default_split).strip()
            item = votes.item(_cmi_audio(a_path, folder), str(record.get("prompt") or "").strip(), _field(record, ("model_a", "model")), split)
            for target, value in rated.items():
                votes.scores.setdefault(target, {})[item] = parse_score(value, where, target, problems)
            continue
        if not b_path or not labels:
            skipped += 1
            continue
        if not a_path:
            problems.add(f"{where}: no first clip ({' or '.join(A_COLUMNS)})")
            continue
        split = str(record.get("split") or default_split).strip()
        prompt = str(record.get("prompt") or "").strip()
        a = votes.item(_cmi_audio(a_path, folder), prompt, _field(record, ("model_a",)), split)
        b = votes.item(_cmi_audio(b_path, folder), prompt, _field(record, ("model_b",)), split)
        voter = _field(record, VOTER_COLUMNS)
        for key, label in labels.items():
            if label in (None, ""):
                continue
            if canonical_vote(label) is None:
                problems.add(f"{where} {key}: {label!r} is not a vote (a, b, model_a, model_b, tie, both, neither, TIE, BOTH_BAD)")
                continue
            dimension = key.removeprefix("preference").lstrip("-_ ") or "preference"
            confidence = parse_score(record.get(f"confidence_{key}"), where, f"confidence_{key}", problems)
            votes.add(a, b, prompt, str(label).strip(), voter, dimension, confidence, where)
    if skipped:
        warn(f"{path}: {skipped} row(s) without a second clip or a preference label were skipped (rating rows)", notes)


def _read_arena(root: Path, votes: _Votes, notes: list[str], problems: Problems) -> None:
    files = sorted((root / "battle_data").glob("*/*.json"))
    if not files:
        raise ClapmosError(f"{root}/battle_data/ holds no <period>/<battle>.json files.")
    private = []
    for path in files:
        where = f"{path}:1"
        try:
            battle = json.loads(read_text(path))
        except json.JSONDecodeError as error:
            problems.add(f"{path}:{error.lineno}: not JSON ({error.msg})")
            continue
        if not isinstance(battle, dict):
            problems.add(f"{where}: not a JSON object")
            continue
        label = battle.get("preference")
        if canonical_vote(label) not in ("a", "b", "tie", "both_bad"):
            problems.add(f"{where} preference: {label!r} is not A, B, TIE or BOTH_BAD")
            continue
        if not battle.get("audio_a") or not battle.get("audio_b"):
            private.append(path.name)
            continue
        prompt, split = str(battle.get("prompt") or "").strip(), path.parent.name
        a, b = (
            votes.item(root / str(battle[f"audio_{side}"]), prompt, str(battle.get(f"system_{side}") or ""), split,
                       f"{Path(battle[f'audio_{side}']).parent.name}/{Path(battle[f'audio_{side}']).stem}")
            for side in "ab"
        )
        votes.add(a, b, prompt, str(label).strip(), str(battle.get("user_pseudonym") or ""), "preference", math.nan, where)
    if private:
        warn(f"{len(private)} battle(s) of systems without public audio were skipped:\n{listing(private)}", notes)
