"""A synthetic rated corpus in the MusicEval phase-1 layout, for the demo and for tests.

The audio is test signals, not music: sequences of harmonic tones rendered by
:mod:`clapmos.embed.corpora.demo_audio`. Eight systems (:data:`DEMO_SYSTEMS`) differ in a
latent *quality* (how clean their tones are) and a latent *alignment* (how often
they render a prompted attribute as asked). Prompts ask for a register
(low/high), a tempo (slow/fast) and a timbre (dark/bright). Fourteen simulated
listeners with their own offsets and scales give each clip five integer 1–5
ratings of overall quality and of text alignment.

The files follow ``DATA.md`` §1 exactly, so the demo runs the real ``musiceval``
reader: S001 and S006 are demo systems, their clips are named with prompt ids
that exist only through ``demo_prompt_info.txt`` (keyed by full file name).

>>> plan = plan_demo(48, seed=0)
>>> len(plan), sorted(plan["split"].unique()), plan["system"].nunique()
(48, ['dev', 'train'], 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from clapmos.embed.corpora.demo_audio import SR, render_clip
from clapmos.embed.corpora.formats import MUSICEVAL_PREFIX
from clapmos.embed.errors import ClapmosError


@dataclass(frozen=True)
class DemoSystem:
    """A synthetic generating system: latent quality and alignment, both in [0, 1]."""

    id: str
    quality: float
    alignment: float
    demo: bool = False


DEMO_SYSTEMS = (
    DemoSystem("S001", 0.92, 0.90, demo=True),
    DemoSystem("S002", 0.81, 0.55),
    DemoSystem("S003", 0.70, 0.80),
    DemoSystem("S004", 0.59, 0.45),
    DemoSystem("S006", 0.48, 0.85, demo=True),
    DemoSystem("S007", 0.37, 0.65),
    DemoSystem("S008", 0.26, 0.75),
    DemoSystem("S009", 0.15, 0.50),
)
DEMO_MARK = ".clapmos-demo"  # in every demo corpus folder: make-demo may rewrite it
N_PROMPTS = 40
N_LISTENERS = 14
RATINGS_PER_CLIP = 5
DEV_FRACTION = 0.2
ATTRIBUTES = {"register": ("low", "high"), "tempo": ("slow", "fast"), "timbre": ("dark", "bright")}
PHRASES = {
    "low": "low-pitched", "high": "high-pitched", "slow": "slow", "fast": "fast",
    "dark": "dark, mellow", "bright": "bright, sparkling",
}
TEMPLATES = (
    "A {tempo} {register} melody with a {timbre} tone",
    "{Tempo} {register} notes, {timbre} timbre",
    "A {timbre} synth line, {register} and {tempo}",
    "Simple {register} tune at a {tempo} tempo, {timbre} sound",
    "{Timbre} and {register}, a {tempo} sequence of tones",
)


def prompt_attributes(prompt: int) -> dict[str, str]:
    """Register, tempo and timbre asked for by prompt number ``prompt`` (0-based)."""
    return {name: values[(prompt >> bit) & 1] for bit, (name, values) in enumerate(ATTRIBUTES.items())}


def prompt_text(prompt: int) -> str:
    """The wording of prompt number ``prompt``: its attributes in one of five templates.

    >>> prompt_text(0)
    'A slow low-pitched melody with a dark, mellow tone'
    """
    words = {name: PHRASES[value] for name, value in prompt_attributes(prompt).items()}
    words |= {name.capitalize(): phrase[0].upper() + phrase[1:] for name, phrase in words.items()}
    return TEMPLATES[(prompt // 8) % len(TEMPLATES)].format(**words)


def prompt_count(n_clips: int) -> int:
    """Prompts in a corpus of ``n_clips``: 40, or more when a system would need to repeat one."""
    return max(N_PROMPTS, -(-n_clips // len(DEMO_SYSTEMS)))


def prompt_id(number: int, n_prompts: int) -> str:
    """``P007``-style id; demo systems use ``number + n_prompts``, so the width fits twice the count."""
    return f"P{number:0{max(3, len(str(2 * n_prompts)))}d}"


def plan_demo(n_clips: int = 240, seed: int = 0) -> pd.DataFrame:
    """The latent design of the demo corpus, one row per clip (no audio, no ratings).

    Columns: ``file``, ``system``, ``prompt`` (0-based number), ``split``,
    ``quality`` (the system's plus per-clip variation), the rendered ``register``,
    ``tempo`` and ``timbre``, ``alignment`` (fraction of prompted attributes
    rendered as asked) and ``seconds``.
    """
    if n_clips < 3 * len(DEMO_SYSTEMS):
        raise ClapmosError(f"--clips {n_clips}: the demo corpus needs at least {3 * len(DEMO_SYSTEMS)} clips (3 per system).")
    rng = np.random.default_rng([seed, 0])
    n_prompts = prompt_count(n_clips)
    rows = []
    for s, system in enumerate(DEMO_SYSTEMS):
        count = len(range(s, n_clips, len(DEMO_SYSTEMS)))
        prompts = rng.permutation(n_prompts)[:count]
        dev = set(rng.permutation(count)[: max(1, round(DEV_FRACTION * count))])
        for j, prompt in enumerate(prompts):
            asked = prompt_attributes(int(prompt))
            matched = rng.random(len(ATTRIBUTES)) < system.alignment
            rendered = {name: asked[name] if ok else _other(name, asked[name]) for name, ok in zip(ATTRIBUTES, matched)}
            number = prompt + 1 + (n_prompts if system.demo else 0)
            rows.append(
                {
                    "file": f"{MUSICEVAL_PREFIX}{system.id}_{prompt_id(number, n_prompts)}.wav",
                    "system": system.id,
                    "prompt": int(prompt),
                    "split": "dev" if j in dev else "train",
                    "quality": float(np.clip(system.quality + rng.normal(0.0, 0.06), 0.0, 1.0)),
                    **rendered,
                    "alignment": float(matched.mean()),
                    "seconds": float(rng.uniform(2.0, 3.0)),
                }
            )
    return pd.DataFrame(rows)


def _other(attribute: str, value: str) -> str:
    first, second = ATTRIBUTES[attribute]
    return second if value == first else first


def simulate_ratings(plan: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Five ratings per clip from 14 listeners: ``row``, ``listener``, ``overall``, ``textual`` (integers 1–5).

    A listener's rating is ``round(3 + scale * (latent - 3) + offset + noise)``
    clipped to 1–5, with the latent overall ``1 + 4 quality`` and the latent
    textual ``1 + 4 (0.8 alignment + 0.2 quality)``.
    """
    rng = np.random.default_rng([seed, 1])
    offsets = rng.normal(0.0, 0.3, N_LISTENERS)
    scales = rng.uniform(0.75, 1.25, N_LISTENERS)
    latent = {
        "overall": 1 + 4 * plan["quality"].to_numpy(),
        "textual": 1 + 4 * (0.8 * plan["alignment"].to_numpy() + 0.2 * plan["quality"].to_numpy()),
    }
    rows = []
    for i in range(len(plan)):
        for listener in rng.choice(N_LISTENERS, RATINGS_PER_CLIP, replace=False):
            heard = {t: 3 + scales[listener] * (mu[i] - 3) + offsets[listener] + rng.normal(0, 0.45) for t, mu in latent.items()}
            scores = {t: int(np.clip(np.rint(value), 1, 5)) for t, value in heard.items()}
            rows.append({"row": i, "listener": f"L{listener + 1:02d}", **scores})
    return pd.DataFrame(rows)


def make_demo_corpus(out_dir: Path, n_clips: int = 240, seed: int = 0) -> str:
    """Write the demo corpus into ``out_dir`` (MusicEval phase-1 layout); returns a summary.

    Deterministic: the same ``n_clips`` and ``seed`` give byte-identical files. ``out_dir``
    must be new, empty, or a demo corpus written before (it holds :data:`DEMO_MARK`):
    nothing else is ever overwritten.

    >>> print(make_demo_corpus(Path("demo/corpus")))  # doctest: +SKIP
    Wrote a synthetic demo corpus (test signals, not music) to demo/corpus: 240 clips ...
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir.is_dir() and ((out_dir / DEMO_MARK).is_file() or not any(out_dir.iterdir()))):
        raise ClapmosError(
            f"{out_dir} exists and is not a demo corpus written by clapmos; it is left alone. Choose a new folder."
        )
    plan = plan_demo(n_clips, seed)
    ratings = simulate_ratings(plan, seed)
    for sub in ("wav", "sets", "person_mos", "system_mos"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    (out_dir / DEMO_MARK).write_text("a synthetic demo corpus written by `clapmos make-demo`\n")
    for i, clip in plan.iterrows():
        rng = np.random.default_rng([seed, 2, i])
        audio = render_clip(clip["register"], clip["tempo"], clip["timbre"], clip["quality"], clip["seconds"], rng)
        sf.write(out_dir / "wav" / clip["file"], audio, SR, subtype="PCM_16")
    means = ratings.groupby("row")[["overall", "textual"]].mean()
    for split in ("train", "dev"):
        rows = plan.index[plan["split"] == split]
        mos = [f"{plan.at[i, 'file']},{means.at[i, 'overall']:.1f},{means.at[i, 'textual']:.1f}" for i in rows]
        _write_lines(out_dir / "sets" / f"{split}_mos_list.txt", mos)
        person = ratings[ratings["row"].isin(rows)].itertuples()
        _write_lines(
            out_dir / "person_mos" / f"{split}_person_mos.txt",
            [f"{plan.at[r.row, 'file']},{r.listener},{r.overall},{r.textual}" for r in person],
        )
    per_system = means.groupby(plan["system"]).mean().loc[[s.id for s in DEMO_SYSTEMS]]
    _write_lines(
        out_dir / "system_mos" / "system_mos_phase1.csv",
        [f"{s},{m.overall:.4f},{m.textual:.4f}" for s, m in per_system.iterrows()],
    )
    n_prompts = prompt_count(n_clips)
    prompts = [f"{prompt_id(p + 1, n_prompts)}\t{prompt_text(p)}" for p in range(n_prompts)]
    _write_lines(out_dir / "prompt_info.txt", ["id\ttext", *prompts])
    demo = plan[plan["system"].isin([s.id for s in DEMO_SYSTEMS if s.demo])]
    _write_lines(out_dir / "demo_prompt_info.txt", ["id\ttext", *(f"{c.file}\t{prompt_text(c.prompt)}" for c in demo.itertuples())])
    counts = plan["split"].value_counts()
    order = ", ".join(f"{s} {m:.2f}" for s, m in per_system["overall"].items())
    return (
        f"Wrote a synthetic demo corpus (test signals, not music) to {out_dir}: {len(plan)} clips "
        f"({counts.get('train', 0)} train, {counts.get('dev', 0)} dev) of 2–3 s at {SR} Hz "
        f"from {len(DEMO_SYSTEMS)} systems, {n_prompts} prompts, {N_LISTENERS} listeners, "
        f"{RATINGS_PER_CLIP} ratings per clip. System overall MOS (designed best to worst): {order}. "
        f"Read it with --corpus musiceval --root {out_dir}."
    )


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
