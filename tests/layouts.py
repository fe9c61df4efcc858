"""Tiny corpora in the exact release layouts of ``docs/DATA.md``, for tests.

Each ``write_*`` function creates the release folder under ``root`` with its
official name, fills it with short sine-tone wav files (16 kHz mono, 0.5–1.5 s)
and the metadata files, and returns the path to pass as ``--root``:

=========================  ===========================================  ================
builder                    returns                                      reader
=========================  ===========================================  ================
write_musiceval_phase1     ``root/MusicEval-phase1``                    ``musiceval``
write_musiceval_full       ``root/MusicEval-full`` (train, dev, test)   ``musiceval``
write_musiceval_eval       ``root/audiomos2025-track1-eval-phase/DATA``  ``musiceval-eval``
write_xacle                ``root/XACLE_dataset``                       ``xacle``
write_manifest             ``root/manifest.csv`` or ``.jsonl``          ``manifest``
=========================  ===========================================  ================

MusicEval clips cycle over the systems :data:`MUSICEVAL_SYSTEMS`: S001 and S017
are demo systems whose text is in ``demo_prompt_info.txt`` under the full file
name (and ``prompt_info.txt`` carries a decoy text under their prompt ids, so a
reader that looks up the prompt id first gets it wrong); S002 and S005 share
prompt ids. Every MusicEval clip has 5 of the 14 raters (integer 1–5 scores, so
means are multiples of 0.2); every XACLE clip 4 listeners of its split (integer
0–10, means multiples of 0.25). Contents are deterministic for a ``seed``.

>>> import tempfile
>>> from clapmos.embed.corpora import read_corpus
>>> with tempfile.TemporaryDirectory() as tmp:
...     corpus = read_corpus("musiceval", write_musiceval_phase1(tmp))
>>> len(corpus), corpus.splits
(9, ['train', 'dev'])
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
MUSICEVAL_PREFIX = "audiomos2025-track1-"
MUSICEVAL_SYSTEMS = ("S001", "S002", "S017", "S005")
DEMO_SYSTEMS_USED = ("S001", "S017")
RATERS = tuple(f"R{i:02d}" for i in range(1, 15))
TEXTS = (
    "A calm solo piano piece, slow and soft",
    "Upbeat electronic dance track with a punchy kick",
    'A "lo-fi" hip hop beat, mellow and warm',
    "Epic orchestral music with brass and timpani",
    "Acoustic guitar ballad, gentle, with light percussion",
)


def write_wav(path: str | Path, seconds: float = 1.0, sr: int = SR, freq: float = 440.0, channels: int = 1) -> Path:
    """Write a sine tone as 16-bit PCM wav (parent folders created); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * sr))) / sr
    tone = 0.3 * np.sin(2 * np.pi * freq * t)
    sf.write(path, np.repeat(tone[:, None], channels, axis=1) if channels > 1 else tone, sr, subtype="PCM_16")
    return path


def musiceval_name(system: str, prompt: str) -> str:
    """``audiomos2025-track1-S002_P044.wav`` from ``S002``, ``P044``."""
    return f"{MUSICEVAL_PREFIX}{system}_{prompt}.wav"


def _musiceval_clip(k: int) -> tuple[str, str, str]:
    """System, prompt id and text of the k-th clip of a tiny MusicEval release."""
    system = MUSICEVAL_SYSTEMS[k % 4]
    group = k // 4 + 1
    if system in DEMO_SYSTEMS_USED:
        prompt = f"P{(100 if system == 'S001' else 200) + group:03d}"
        return system, prompt, f"demo text of {system} {prompt}: {TEXTS[k % len(TEXTS)]}"
    return system, f"P{group:03d}", TEXTS[group % len(TEXTS)]


def _write_prompt_files(folder: Path, names: list[str], clips: list[tuple[str, str, str]]) -> None:
    by_id = {p: t for (s, p, t) in clips if s not in DEMO_SYSTEMS_USED}
    decoys = {p: f"decoy text for prompt id {p}" for (s, p, _) in clips if s in DEMO_SYSTEMS_USED}
    with open(folder / "prompt_info.txt", "w") as f:
        f.write("id\ttext\n" + "".join(f"{p}\t{t}\n" for p, t in {**by_id, **decoys}.items()))
    with open(folder / "demo_prompt_info.txt", "w") as f:
        f.write("id\ttext\n")
        f.writelines(f"{n}\t{t}\n" for n, (s, _, t) in zip(names, clips) if s in DEMO_SYSTEMS_USED)


def _write_musiceval(folder: Path, counts: dict[str, int], with_person_mos: bool, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for sub in ("wav", "sets", "person_mos", "system_mos"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    clips, names, system_scores = [], [], {}
    k = 0
    for split, n in counts.items():
        mos_lines, person_lines = [], []
        for _ in range(n):
            system, prompt, text = clip = _musiceval_clip(k)
            name = musiceval_name(system, prompt)
            write_wav(folder / "wav" / name, seconds=0.5 + 0.5 * (k % 3), freq=220.0 * (1 + k % 5))
            raters = rng.choice(RATERS, size=5, replace=False)
            level = rng.integers(1, 6, size=2)
            scores = np.clip(level + rng.integers(-1, 2, size=(5, 2)), 1, 5)
            mean = scores.mean(axis=0)
            mos_lines.append(f"{name},{mean[0]:.1f},{mean[1]:.1f}\n")
            person_lines += [f"{name},{r},{o},{t}\n" for r, (o, t) in zip(raters, scores)]
            system_scores.setdefault(system, []).append(mean)
            clips.append(clip)
            names.append(name)
            k += 1
        (folder / "sets" / f"{split}_mos_list.txt").write_text("".join(mos_lines))
        if with_person_mos:
            (folder / "person_mos" / f"{split}_person_mos.txt").write_text("".join(person_lines))
    (folder / "system_mos" / "system_mos_phase1.csv").write_text(
        "".join(f"{s},{np.mean(m, axis=0)[0]:.2f},{np.mean(m, axis=0)[1]:.2f}\n" for s, m in sorted(system_scores.items()))
    )
    _write_prompt_files(folder, names, clips)
    return folder


def write_musiceval_phase1(root: str | Path, n_train: int = 6, n_dev: int = 3, with_person_mos: bool = True, seed: int = 0) -> Path:
    """``root/MusicEval-phase1`` with splits train and dev."""
    return _write_musiceval(Path(root) / "MusicEval-phase1", {"train": n_train, "dev": n_dev}, with_person_mos, seed)


def write_musiceval_full(
    root: str | Path, n_train: int = 6, n_dev: int = 3, n_test: int = 3, with_person_mos: bool = True, seed: int = 0
) -> Path:
    """``root/MusicEval-full`` with splits train, dev and test."""
    counts = {"train": n_train, "dev": n_dev, "test": n_test}
    return _write_musiceval(Path(root) / "MusicEval-full", counts, with_person_mos, seed)


def write_musiceval_eval(root: str | Path, n_eval: int = 4) -> Path:
    """``root/audiomos2025-track1-eval-phase/DATA``: ``sets/eval_list.txt`` (ids without ``.wav``), no scores."""
    folder = Path(root) / "audiomos2025-track1-eval-phase" / "DATA"
    (folder / "sets").mkdir(parents=True, exist_ok=True)
    clips = [_musiceval_clip(k) for k in range(n_eval)]
    names = [musiceval_name(s, p) for s, p, _ in clips]
    for k, name in enumerate(names):
        write_wav(folder / "wav" / name, seconds=0.5 + 0.5 * (k % 3), freq=330.0)
    (folder / "sets" / "eval_list.txt").write_text("".join(n.removesuffix(".wav") + "\n" for n in names))
    _write_prompt_files(folder, names, clips)
    return folder


XACLE_TEXTS = (
    "A dog barks, then a car passes by",
    'Rain falls on a tin roof while someone says "hello"',
    "Birds chirp in the distance",
    "A man speaks over loud engine noise, and a horn honks",
)


def write_xacle(
    root: str | Path,
    n_train: int = 4,
    n_validation: int = 2,
    with_test: bool = True,
    spelling: str = "wav_file_name",
    test_labels: bool = False,
    seed: int = 0,
) -> Path:
    """``root/XACLE_dataset``: long and average CSVs for train and validation, optional test.

    ``spelling`` is the file-name column header (``wav_file_name`` or the README's
    ``wave_file_name``). The test split has ``test.csv`` with only file name and
    text (2 clips), plus ``test_average.csv`` when ``test_labels``.
    """
    folder = Path(root) / "XACLE_dataset"
    meta = folder / "meta_data"
    meta.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts = {"train": n_train, "validation": n_validation, **({"test": 2} if with_test else {})}
    k = 0
    for s, (split, n) in enumerate(counts.items()):
        long_rows, average_rows = [], []
        listeners = [str(1000 * (s + 1) + i) for i in range(8)]
        for _ in range(n):
            name, text = f"{k:05d}.wav", XACLE_TEXTS[k % len(XACLE_TEXTS)]
            write_wav(folder / "wav" / split / name, seconds=0.5 + 0.5 * (k % 3), freq=200.0 + 50 * k)
            scores = np.clip(rng.integers(0, 11) + rng.integers(-2, 3, size=4), 0, 10)
            long_rows += [[name, text, int(x), listener] for x, listener in zip(scores, rng.choice(listeners, 4, replace=False))]
            average_rows.append([name, text, f"{scores.mean():.2f}"])
            k += 1
        if split == "test":
            _write_csv(meta / "test.csv", [spelling, "text"], [r[:2] for r in average_rows])
            if test_labels:
                _write_csv(meta / "test_average.csv", [spelling, "text", "average_score"], average_rows)
        else:
            _write_csv(meta / f"{split}.csv", [spelling, "text", "score", "listener_id"], long_rows)
            _write_csv(meta / f"{split}_average.csv", [spelling, "text", "average_score"], average_rows)
    return folder


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_manifest(
    root: str | Path,
    fmt: str = "csv",
    n_clips: int = 4,
    n_raters: int = 3,
    targets: tuple[str, ...] = ("mos",),
    with_listener: bool = True,
    splits: tuple[str, ...] = ("train", "test"),
    seed: int = 0,
) -> Path:
    """``root/manifest.csv`` (``fmt="csv"``) or ``root/manifest.jsonl`` (``fmt="jsonl"``).

    Clip ``i`` is ``audio/clip{i}.wav`` (relative path), system ``sys{i % 2}``, split
    ``splits[i % len(splits)]``, rated by ``n_raters`` listeners ``L0``, ``L1``, ...
    (one row each, integer scores 1–5 per target); without ``with_listener`` the
    ``listener`` column is left out.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_clips):
        write_wav(root / "audio" / f"clip{i}.wav", seconds=0.5 + 0.5 * (i % 3), freq=300.0 + 40 * i)
        for r in range(n_raters):
            row = {"path": f"audio/clip{i}.wav", "text": f"prompt {i}, a tone", "system": f"sys{i % 2}"}
            row |= {"listener": f"L{r}"} if with_listener else {}
            row |= {"split": splits[i % len(splits)]}
            row |= {t: int(rng.integers(1, 6)) for t in targets}
            rows.append(row)
    if fmt == "csv":
        path = root / "manifest.csv"
        _write_csv(path, list(rows[0]), [list(r.values()) for r in rows])
    elif fmt == "jsonl":
        path = root / "manifest.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        raise ValueError(f"fmt must be 'csv' or 'jsonl', not {fmt!r}")
    return path
