"""What the embedding benchmarks share: a stand-in RoBERTa tokenizer and a corpus of tones.

Imported by the benchmarks' child processes (which run in the repository's root).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf


def stand_in_roberta_tokenizer():
    """A byte-level tokenizer with roberta-base's vocabulary size (no merges): no download, same tensor shapes."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import RobertaTokenizer

    from clapmos.embed.backends.laion_package import ROBERTA_BASE_VOCAB

    tokens = ["<s>", "<pad>", "</s>", "<unk>", *sorted(ByteLevel.alphabet())]
    tokens += [f"tok{i}" for i in range(ROBERTA_BASE_VOCAB - len(tokens) - 1)] + ["<mask>"]
    return RobertaTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=[])


def write_tone_corpus(folder: Path, clips: int, seconds: float, rate: int, prompts: list[str]) -> None:
    """``clips`` noisy tones of ``seconds`` at ``rate`` Hz and ``folder/manifest.csv`` (one prompt per four clips)."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(clips):
        t = np.arange(int(seconds * rate)) / rate
        audio = 0.3 * np.sin(2 * np.pi * (110 + 20 * i) * t) + 0.05 * rng.standard_normal(len(t))
        sf.write(folder / f"clip{i:03d}.wav", audio.astype(np.float32), rate)
        rows.append({"path": f"clip{i:03d}.wav", "text": prompts[i // 4 % len(prompts)]})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
