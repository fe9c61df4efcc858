"""Tiny copies of the other rating benchmarks' layouts (``docs/DATA.md`` §4–6), for tests.

=========================  ==========================================  ==================
builder                    returns                                     reader
=========================  ==========================================  ==================
write_songeval             ``root/SongEval`` (MP3 songs)               ``songeval``
write_audiobox_aes         ``root/audiobox-aesthetics``                ``audiobox-aes``
write_track2               ``root/audiobox-aesthetics`` (+ eval phase) ``audiomos-track2``
write_cmi_pref             ``root/cmi-pref``                           ``preferences``
write_music_arena          ``root/music-arena``                        ``preferences``
=========================  ==========================================  ==================

Each returns the path and the values it wrote, so tests compare the store with them exactly.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.layouts import write_wav

SONGEVAL_KEYS = ["Coherence", "Musicality", "Memorability", "Clarity", "Naturalness"]
AXES = ["Production_Quality", "Production_Complexity", "Content_Enjoyment", "Content_Usefulness"]


def write_mp3(path: Path, seconds: float = 0.5, sr: int = 44100, freq: float = 330.0, channels: int = 2) -> Path:
    """A stereo sine tone as MP3 (libsndfile ≥ 1.1)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * freq * t)
    sf.write(path, np.stack([tone] * channels, axis=1) if channels > 1 else tone, sr, format="MP3")
    return path


def write_songeval(root, n: int = 6, val: tuple[int, ...] = (1, 4), raters: int = 3, seed: int = 0,
                   file_name_style: str = "mp3/{}.mp3", metadata_name: str = "metadata.jsonl") -> tuple[Path, dict]:
    """``SongEval/``: ``n`` MP3 songs, ``raters`` annotations each (quarter points, 1–5), an
    extra non-numeric key per annotation, the last song with an empty annotation list, and
    ``static/val_ids.txt`` listing ``val``. Returns the folder and ``{id: [annotation dicts]}``."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "SongEval"
    written = {}
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / metadata_name).open("w") as out:
        for k in range(n):
            write_mp3(folder / "mp3" / f"{k}.mp3", freq=220.0 + 30 * k)
            annotations = [] if k == n - 1 else [
                {**{key: float(rng.integers(4, 21)) / 4 for key in SONGEVAL_KEYS}, "comment": "ok"} for _ in range(raters)
            ]
            written[str(k)] = annotations
            out.write(json.dumps({"file_name": file_name_style.format(k), "annotation": annotations}) + "\n")
    (folder / "static").mkdir(exist_ok=True)
    (folder / "static" / "val_ids.txt").write_text("".join(f"mp3/{k}.mp3\n" for k in val))
    return folder, written


def _axis_record(rng, data_path: str) -> dict:
    return {"data_path": data_path, **{axis: [float(v) for v in rng.integers(0, 11, size=10)] for axis in AXES}}


def write_audiobox_aes(root, n: int = 3, seed: int = 0) -> tuple[Path, dict]:
    """``audiobox-aesthetics/evaluation_data/AES_natural_{speech,music}.jsonl`` and ``AES_PAM.jsonl``
    with ``/your_path/`` paths, and the audio under the folder. Returns it and ``{relative path: record}``."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "audiobox-aesthetics"
    records = {}
    layouts = {
        "AES_natural_speech.jsonl": [f"LibriTTS/test-clean/{k}/utt{k}.wav" for k in range(n)],
        "AES_natural_music.jsonl": [f"MUSDB18/test/song{k // 2}/{'bass' if k % 2 else 'drums'}.wav" for k in range(n)],
        "AES_PAM.jsonl": [f"human_eval/audio/sys{k % 2}/generated_audio_index_{k}.wav" for k in range(n)],
    }
    for name, paths in layouts.items():
        lines = []
        for relative in paths:
            write_wav(folder / relative, seconds=0.5)
            record = _axis_record(rng, "/your_path/" + relative)
            records[relative] = record
            lines.append(json.dumps(record))
        (folder / "evaluation_data").mkdir(parents=True, exist_ok=True)
        (folder / "evaluation_data" / name).write_text("\n".join(lines) + "\n")
    return folder, records


def write_track2(root, n_eval: int = 4, seed: int = 1) -> tuple[Path, dict]:
    """The AES-Natural files plus ``audiomos2025_track2/`` train and dev lists (rounded means, as
    released), the eval phase (``eval_list.txt``, wavs) and its annotations JSONL. Returns the
    folder and ``{"lists": {split: rows}, "eval": {id: record}}``."""
    folder, records = write_audiobox_aes(root, seed=seed)
    rng = np.random.default_rng(seed)
    track2 = folder / "audiomos2025_track2"
    track2.mkdir()
    natural = [r for r in records if not r.startswith("human_eval")]
    lists = {"train": natural[:4], "dev": natural[4:]}
    written: dict = {"lists": {}, "eval": {}}
    for split, paths in lists.items():
        rows = []
        for relative in paths:
            record = records[relative]
            means = [f"{np.round(np.mean(record[a]), 1):.1f}" for a in AXES]
            rows.append([f"audiomos2025-track2-music-{Path(relative).stem}-{len(rows)}{split}", record["data_path"], *means])
        with (track2 / f"audiomos2025-track2-{split}_list.csv").open("w", newline="") as out:
            csv.writer(out).writerows([["sample_id", "data_path", *AXES], *rows])
        written["lists"][split] = rows
    data = Path(root) / "audiomos2025-track2-eval-phase" / "DATA"
    ids = [f"audiomos2025-track2-sys{k % 2:05d}-utt{k:05d}" for k in range(n_eval)]
    (data / "sets").mkdir(parents=True)
    (data / "sets" / "eval_list.txt").write_text("\n".join(ids) + "\n")
    lines = []
    for clip in ids:
        write_wav(data / "wav" / f"{clip}.wav", seconds=0.5)
        written["eval"][clip] = _axis_record(rng, clip)
        lines.append(json.dumps(written["eval"][clip]))
    (track2 / "audiomos2025_track2_human_annotations.jsonl").write_text("\n".join(lines) + "\n")
    return folder, written


def write_cmi_pref(root, n_clips: int = 6, n_train: int = 8, n_test: int = 4, seed: int = 0) -> tuple[Path, list[dict]]:
    """``cmi-pref/`` with ``cmi_train.jsonl``/``cmi_test.jsonl`` (viewer columns, ``model_a``/``model_b``
    labels with confidences) and MP3 clips under ``gen-audio/``. Train votes use clips 0..n-3, test
    votes the last three clips. Returns the folder and the rows written."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cmi-pref"
    names = [f"{k:012x}" for k in range(0xABC000, 0xABC000 + n_clips)]
    for k, name in enumerate(names):
        write_mp3(folder / "gen-audio" / f"{name}.mp3", seconds=0.3, freq=200.0 + 40 * k)
    rows = []
    for split, count, pool in (("train", n_train, range(n_clips - 3)), ("test", n_test, range(n_clips - 3, n_clips))):
        lines = []
        for _ in range(count):
            a, b = rng.choice(list(pool), size=2, replace=False)
            row = {
                "audio-path": f"cmi-pref/gen-audio/{names[a]}.mp3", "audio2": f"cmi-pref/gen-audio/{names[b]}.mp3",
                "prompt": f"prompt {min(a, b)}", "lyrics": "", "prompt id": str(min(a, b)), "ref-audio-path": "",
                "preference-musicality": str(rng.choice(["model_a", "model_b"])),
                "preference-alignment": str(rng.choice(["model_a", "model_b"])),
                "confidence_preference-musicality": int(rng.integers(1, 6)),
                "confidence_preference-alignment": int(rng.integers(1, 6)),
                "user id": f"u{int(rng.integers(3))}", "model_a": f"gen{a % 2}", "model_b": f"gen{b % 2}",
                "source": "cmi-arena-annotation", "split": split,
            }
            rows.append(row)
            lines.append(json.dumps(row))
        (folder / f"cmi_{split}.jsonl").write_text("\n".join(lines) + "\n")
    return folder, rows


def write_music_arena(root, seed: int = 0) -> tuple[Path, list[dict]]:
    """``music-arena/battle_data/<period>/*.json`` (A, B, TIE, BOTH_BAD votes; one battle of a
    private system without audio) and ``audio_files/<period>/*.mp3``. Returns it and the battles."""
    folder = Path(root) / "music-arena"
    battles = []
    for period, labels in (("01-2025JULAUG", ["A", "B", "TIE", "BOTH_BAD", "A"]), ("02-2025SEP", ["B", "A"])):
        for k, label in enumerate(labels):
            a, b = f"audio_files/{period}/{k}a.mp3", f"audio_files/{period}/{k}b.mp3"
            for clip in (a, b):
                write_mp3(folder / clip, seconds=0.3)
            battle = {"battle_uuid": f"{period}-{k}", "prompt": f"song {k}", "user_pseudonym": f"p{k % 2}",
                      "audio_a": a, "system_a": "musicgen", "audio_b": b, "system_b": "songgen", "preference": label}
            battles.append(battle)
            (folder / "battle_data" / period).mkdir(parents=True, exist_ok=True)
            (folder / "battle_data" / period / f"{k}.json").write_text(json.dumps(battle))
    private = {"battle_uuid": "x", "prompt": "p", "user_pseudonym": "p9", "audio_a": "", "system_a": "sao",
               "audio_b": "audio_files/02-2025SEP/0a.mp3", "system_b": "musicgen", "preference": "A"}
    (folder / "battle_data" / "02-2025SEP" / "private.json").write_text(json.dumps(private))
    return folder, battles
