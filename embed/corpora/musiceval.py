"""Readers of the MusicEval releases (AudioMOS 2025 track 1), ``DATA.md`` §1.

``musiceval`` reads a labelled release: ``MusicEval-phase1/`` (train, dev) or
``MusicEval-full/`` (train, dev, test), one split per ``sets/<split>_mos_list.txt``.
``musiceval-eval`` reads the unlabelled evaluation-phase folder
``audiomos2025-track1-eval-phase/DATA/`` (or its parent) as split ``eval``.

Targets are ``overall`` and ``textual`` (means of five 1–5 ratings). Each clip's
text is found by its full wav name in ``demo_prompt_info.txt`` (the demo systems
S001, S006, S013, S017, S018, S033 are keyed this way), else by its prompt id
in ``prompt_info.txt``. The per-rater files ``person_mos/<split>_person_mos.txt``
are optional and their layout ``WAVFILE,RATER_ID,OVERALL,TEXTUAL`` is inferred,
so a file that does not fit it is skipped with a logged warning.

>>> clip_keys("audiomos2025-track1-S002_P044.wav")
('S002', 'P044')
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from clapmos.embed.corpora._parse import (
    Problems,
    Row,
    build_corpus,
    check_audio,
    check_unique_ids,
    choose_splits,
    fixed_rows,
    ordered_splits,
    parse_score,
    read_text,
    warn,
)
from clapmos.embed.corpora.formats import MUSICEVAL_PREFIX, MUSICEVAL_SCORE_RANGE, MUSICEVAL_TARGETS
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.files import require_file

DEMO_SYSTEMS = frozenset({"S001", "S006", "S013", "S017", "S018", "S033"})
ROOT_ADVICE = "Check that --root points at the release folder and that the download is complete."
MEAN_TOLERANCE = 0.05


@dataclass
class _Clip:
    wav: str
    split: str
    where: str
    overall: float = float("nan")
    textual: float = float("nan")

    @property
    def id(self) -> str:
        return self.wav.removesuffix(".wav")


def clip_keys(wav_name: str) -> tuple[str, str]:
    """System id and prompt id of a MusicEval file name (``S002``, ``P044``)."""
    system, _, prompt = wav_name.removesuffix(".wav").removeprefix(MUSICEVAL_PREFIX).partition("_")
    return system, prompt


def as_wav_name(name: str) -> str:
    """``name`` with the ``.wav`` suffix the audio file has."""
    return name if name.endswith(".wav") else f"{name}.wav"


# --------------------------------------------------------------------------- readers
def read_musiceval(root: Path, splits: list[str] | None = None) -> Corpus:
    """Read ``MusicEval-phase1/`` or ``MusicEval-full/``; one split per ``sets/*_mos_list.txt``.

    Examples
    --------
    >>> corpus = read_musiceval(Path("MusicEval-phase1"), splits=["dev"])  # doctest: +SKIP
    >>> corpus.items.loc[0, "id"], corpus.targets  # doctest: +SKIP
    ('audiomos2025-track1-S002_P044', ['overall', 'textual'])
    """
    root = Path(root).absolute()
    lists = _mos_lists(root)
    chosen = choose_splits("musiceval", list(lists), splits)
    notes: list[str] = []
    problems = Problems()
    clips = [clip for split in chosen for clip in _read_mos_list(lists[split], split, problems)]
    problems.raise_if_any("bad score(s) in the score lists, expected numbers from 1 to 5", "Fix these lines and retry.")
    index = {clip.wav: i for i, clip in enumerate(clips)}
    ratings: dict[str, list] = defaultdict(list)
    for split in chosen:
        person = root / "person_mos" / f"{split}_person_mos.txt"
        if person.is_file():
            _read_person_mos(person, split, clips, index, ratings, notes)
        else:
            notes.append(f"no {person.relative_to(root)}: split {split} has no per-rater scores")
    return _assemble("musiceval", root, clips, ratings, notes)


def read_musiceval_eval(root: Path, splits: list[str] | None = None) -> Corpus:
    """Read the evaluation-phase ``DATA/`` folder (or its parent): split ``eval``, no labels.

    Examples
    --------
    >>> corpus = read_musiceval_eval(Path("audiomos2025-track1-eval-phase"))  # doctest: +SKIP
    >>> corpus.splits, corpus.labels["overall"].isna().all()  # doctest: +SKIP
    (['eval'], True)
    """
    root = Path(root).absolute()
    if not (root / "sets").is_dir() and (root / "DATA" / "sets").is_dir():
        root = root / "DATA"
    eval_list = require_file(
        root / "sets" / "eval_list.txt",
        "the evaluation list sets/eval_list.txt",
        "Pass --root audiomos2025-track1-eval-phase/DATA (or its parent folder).",
    )
    choose_splits("musiceval-eval", ["eval"], splits)
    clips = []
    for row in fixed_rows(eval_list, ["ID"]):
        clips.append(_Clip(as_wav_name(row.fields[0]), "eval", row.where))
    return _assemble("musiceval-eval", root, clips, {}, [])


# --------------------------------------------------------------------------- files
def _mos_lists(root: Path) -> dict[str, Path]:
    """``split -> sets/<split>_mos_list.txt``, train/dev/test first."""
    sets = root / "sets"
    found = {p.name.removesuffix("_mos_list.txt"): p for p in sets.glob("*_mos_list.txt")} if sets.is_dir() else {}
    if found:
        return {split: found[split] for split in ordered_splits(list(found), ["train", "dev", "test"])}
    hint = "Pass --root MusicEval-phase1 (the folder that holds wav/, sets/ and prompt_info.txt)."
    if (sets / "eval_list.txt").is_file():
        hint = "This looks like the evaluation-phase folder: use --corpus musiceval-eval."
    else:
        nested = sorted(p.parent.parent for p in root.glob("*/sets/*_mos_list.txt"))
        if nested:
            hint = f"Did you mean --root {nested[0]}?"
    raise ClapmosError(f"expected the score lists {sets}/train_mos_list.txt and dev_mos_list.txt, found none. {hint}")


def _read_mos_list(path: Path, split: str, problems: Problems) -> list[_Clip]:
    clips = []
    for row in fixed_rows(path, ["WAVFILE", "OVERALL", "TEXTUAL"]):
        clip = _Clip(as_wav_name(row.fields[0]), split, row.where)
        clip.overall = parse_score(row.fields[1], row.where, "overall", problems, *MUSICEVAL_SCORE_RANGE, required=True)
        clip.textual = parse_score(row.fields[2], row.where, "textual", problems, *MUSICEVAL_SCORE_RANGE, required=True)
        clips.append(clip)
    return clips


def _read_person_mos(
    path: Path, split: str, clips: list[_Clip], index: dict[str, int], ratings: dict[str, list], notes: list[str]
) -> None:
    """Append the per-rater scores of one split to ``ratings``, or warn and skip the file."""
    rows: list[tuple[Row, int, float, float]] = []
    malformed, unknown = Problems(), []
    try:
        parsed = fixed_rows(path, ["WAVFILE", "RATER_ID", "OVERALL", "TEXTUAL"])
    except ClapmosError as error:
        warn(f"{error}\nIgnoring {path}: split {split} gets no per-rater scores (layout inferred, see DATA.md).", notes)
        return
    for row in parsed:
        overall = parse_score(row.fields[2], row.where, "overall", malformed, *MUSICEVAL_SCORE_RANGE, required=True)
        textual = parse_score(row.fields[3], row.where, "textual", malformed, *MUSICEVAL_SCORE_RANGE, required=True)
        item = index.get(as_wav_name(row.fields[0]))
        if item is None or clips[item].split != split:
            unknown.append(f"{row.where}: {row.fields[0]}")
        else:
            rows.append((row, item, overall, textual))
    if malformed.entries:
        warn(
            f"{path}: {len(malformed.entries)} score(s) not numbers from 1 to 5:\n{listing(malformed.entries)}\n"
            f"Ignoring the file: split {split} gets no per-rater scores (layout inferred, see DATA.md).",
            notes,
        )
        return
    if unknown:
        warn(
            f"{path}: {len(unknown)} rating(s) of clips not in sets/{split}_mos_list.txt were ignored:\n{listing(unknown)}",
            notes,
        )
    for row, item, overall, textual in rows:
        ratings["item"].append(item)
        ratings["listener"].append(row.fields[1])
        ratings["overall"].append(overall)
        ratings["textual"].append(textual)
    _warn_mean_mismatch(path, clips, rows, notes)


def _warn_mean_mismatch(path: Path, clips: list[_Clip], rows: list, notes: list[str]) -> None:
    """Warn about clips whose per-rater mean differs from the score list (a sign of a different layout)."""
    per_clip: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for _, item, overall, textual in rows:
        per_clip[item].append((overall, textual))
    off = []
    for item, scores in per_clip.items():
        overall = sum(s[0] for s in scores) / len(scores)
        textual = sum(s[1] for s in scores) / len(scores)
        clip = clips[item]
        if abs(overall - clip.overall) > MEAN_TOLERANCE or abs(textual - clip.textual) > MEAN_TOLERANCE:
            off.append(f"{clip.wav}: raters {overall:.2f},{textual:.2f} vs list {clip.overall:g},{clip.textual:g}")
    if off:
        warn(f"{path}: {len(off)} clip(s) whose mean rating differs from the score list:\n{listing(off)}", notes)


def _read_prompt_file(path: Path, notes: list[str]) -> dict[str, str]:
    """``id -> text`` of a tab-separated prompt file with header ``id<TAB>text``."""
    texts: dict[str, str] = {}
    malformed, conflicting = [], []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        key, tab, text = line.partition("\t")
        key, text = key.strip(), text.strip()
        if number == 1 and key.lower() == "id":
            continue
        if not tab or not key:
            malformed.append(f"{path}:{number}: {line[:80]!r}")
        elif key in texts and texts[key] != text:
            conflicting.append(f"{path}:{number}: {key}")
        else:
            texts.setdefault(key, text)
    if malformed:
        raise ClapmosError(
            f"{path}: {len(malformed)} malformed line(s), expected id<TAB>text:\n{listing(malformed)}"
        )
    if conflicting:
        warn(f"{path}: {len(conflicting)} repeated id(s) with another text; the first text is used:\n{listing(conflicting)}", notes)
    return texts


def _texts(root: Path, clips: list[_Clip], notes: list[str]) -> list[str]:
    """Each clip's prompt: by file name in demo_prompt_info.txt, else by prompt id in prompt_info.txt."""
    by_id = _read_prompt_file(require_file(root / "prompt_info.txt", "the prompt table prompt_info.txt", ROOT_ADVICE), notes)
    demo_file = root / "demo_prompt_info.txt"
    by_file = _read_prompt_file(demo_file, notes) if demo_file.is_file() else {}
    texts, missing, demo_by_id = [], [], []
    for clip in clips:
        system, prompt = clip_keys(clip.wav)
        text = by_file.get(clip.wav) or by_file.get(clip.id)
        if not text:
            text = by_id.get(prompt, "")
            if text and system in DEMO_SYSTEMS:
                demo_by_id.append(clip.wav)
        if not text:
            missing.append(f"{clip.where}: {clip.wav} (prompt id {prompt or '?'})")
        texts.append(text)
    if missing:
        sources = f"{demo_file.name} by file name" + ("" if by_file else " (absent)") + ", prompt_info.txt by prompt id"
        raise ClapmosError(
            f"{len(missing)} clip(s) have no text in {root} ({sources}):\n{listing(missing)}\n"
            "Check that the prompt files belong to this release."
        )
    if demo_by_id:
        warn(
            f"{len(demo_by_id)} clip(s) of demo systems {sorted(DEMO_SYSTEMS)} are not in {demo_file.name}; "
            f"their text was taken from prompt_info.txt by prompt id:\n{listing(demo_by_id)}",
            notes,
        )
    return texts


def _assemble(name: str, root: Path, clips: list[_Clip], ratings: dict[str, list], notes: list[str]) -> Corpus:
    check_unique_ids([c.id for c in clips], [c.where for c in clips])
    wav_dir = root / "wav"
    check_audio([wav_dir / c.wav for c in clips], f"{wav_dir}/")
    texts = _texts(root, clips, notes)
    items = {
        "id": [c.id for c in clips],
        "path": [str(wav_dir / c.wav) for c in clips],
        "text": texts,
        "system": [clip_keys(c.wav)[0] for c in clips],
        "split": [c.split for c in clips],
    }
    labels = {"overall": [c.overall for c in clips], "textual": [c.textual for c in clips]}
    return build_corpus(name, items, labels, ratings, MUSICEVAL_TARGETS, root, notes)
