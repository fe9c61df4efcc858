"""Simulated listening tests where what is rated lives in a short stretch of each clip: the frame heads find it.

Clips are sequences of 20-32 frame tokens of 16 numbers, mostly noise. Listeners rate
a latent score ``q`` of each clip as in the SPO simulation (4 of 60 listeners per clip,
each with their own offset and scale, rounded to 0-10), and every head is trained on
those ratings with the SPO targets; all are scored by their Spearman correlation with
``q`` on 200 held-out clips.

* **Quality in a stretch** (``attn_mlp``): 3 consecutive tokens carry a marker
  (something happens there) and ``q`` along another direction; the rest is neutral.
  Averaging the tokens dilutes ``q`` ten times, so the same-size MLP on mean-pooled
  tokens is beaten by attentive pooling, whose attention peaks on the stretch.
* **The prompt matches part of the clip** (``xattn``): the clip renders three
  concepts in three stretches, one of them the prompt's; each stretch has its own
  quality, and listeners rate the quality of the stretch that matches the prompt. The
  text vector, as the query, finds that stretch; mean pooling mixes the three.

Both run in one torch thread (a shared, loaded machine stalls two-thread torch on
models this small).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from clapmos.embed.store.frames import Frames
from clapmos.heads import AttentionMLPRegressor, CrossAttentionRegressor, SpoMLPRegressor, listener_matrices

N_TRAIN, N_TEST, DIM, STRETCH, POOL, PER_CLIP = 400, 200, 16, 3, 60, 4
SETTINGS = {"hidden_sizes": (32,), "max_epochs": 40, "lr": 3e-3, "random_state": 0}  # the same MLP for every head
ATTENTION = {"d_model": 32, "n_heads": 2}
pytestmark = pytest.mark.usefixtures("one_torch_thread")
MIN_GAIN, MIN_PEAKED = 0.10, 0.7  # observed for seeds 0-3: gains 0.22-0.68, peaked on the stretch 82-99%


def listener_ratings(q: np.ndarray, rng: np.random.Generator):
    """Per-listener ratings of latent ``q`` (offset and scale per listener, rounded, 0-10) and the clip means."""
    n = len(q)
    offset, scale = rng.normal(0, 1.5, POOL), np.exp(rng.uniform(np.log(0.5), np.log(2.0), POOL))
    item = np.repeat(np.arange(n), PER_CLIP)
    listener = np.concatenate([rng.choice(POOL, PER_CLIP, replace=False) for _ in range(n)])
    raw = 5 + offset[listener] + scale[listener] * q[item] + rng.normal(0, 0.5, len(item))
    ratings = pd.DataFrame({"item": item, "listener": listener.astype(str), "score": np.clip(np.round(raw), 0, 10)})
    scores, ids = listener_matrices(ratings, n, "score")
    return scores, ids, np.nanmean(scores, axis=1)


def quality_in_a_stretch(seed: int):
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_TEST
    q = rng.normal(size=n)
    marker, direction = np.linalg.qr(rng.normal(size=(DIM, 2)))[0].T
    sequences, stretch = [], []
    for i, length in enumerate(rng.integers(20, 33, size=n)):
        tokens = rng.normal(size=(length, DIM))
        start = rng.integers(0, length - STRETCH + 1)
        tokens[start : start + STRETCH] += 3.0 * marker + 1.5 * q[i] * direction
        sequences.append(tokens)
        stretch.append(start)
    return Frames.from_list(sequences), q, np.array(stretch), None


def prompt_matches_a_stretch(seed: int, concepts: int = 6):
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_TEST
    q = rng.normal(size=n)
    basis = np.linalg.qr(rng.normal(size=(DIM, DIM)))[0]
    audio_concepts, direction = basis[:concepts], basis[concepts]
    words = rng.normal(size=(concepts, DIM))  # the prompts' text vectors live in a space of their own
    words /= np.linalg.norm(words, axis=1, keepdims=True)
    prompt = rng.integers(0, concepts, size=n)
    sequences, stretch = [], []
    for i, length in enumerate(rng.integers(20, 33, size=n)):
        tokens = rng.normal(size=(length, DIM))
        starts = rng.permutation(length // STRETCH)[:3] * STRETCH
        others = rng.choice([c for c in range(concepts) if c != prompt[i]], 2, replace=False)
        for start, concept, quality in zip(starts, [prompt[i], *others], [q[i], *rng.normal(size=2)]):
            tokens[start : start + STRETCH] += 3.0 * audio_concepts[concept] + 1.5 * quality * direction
        sequences.append(tokens)
        stretch.append(starts[0])
    text = words[prompt] + 0.05 * rng.normal(size=(n, DIM))
    return Frames.from_list(sequences, text=text), q, np.array(stretch), text


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("simulate", "head"),
    [(quality_in_a_stretch, AttentionMLPRegressor), (prompt_matches_a_stretch, CrossAttentionRegressor)],
    ids=["attn_mlp", "xattn"],
)
def test_the_frame_head_beats_the_same_mlp_on_mean_pooled_tokens_and_listens_to_the_stretch(simulate, head, seed):
    frames, q, stretch, text = simulate(seed)
    scores, ids, clip_means = listener_ratings(q, np.random.default_rng([seed, 1]))
    train, test = np.arange(N_TRAIN), np.arange(N_TRAIN, N_TRAIN + N_TEST)
    ratings = {"listener_scores": scores[train], "listener_ids": ids[train]}

    model = head(**ATTENTION, **SETTINGS).fit(frames[train], clip_means[train], **ratings)
    prediction, attention = model.predict(frames[test], return_attention=True)
    pooled = np.stack([frames.clip(i).mean(axis=0) for i in range(len(frames))])
    if text is not None:
        pooled = np.hstack([pooled, text])
    baseline = SpoMLPRegressor(**SETTINGS).fit(pooled[train], clip_means[train], **ratings).predict(pooled[test])

    gain = spearmanr(prediction, q[test]).statistic - spearmanr(baseline, q[test]).statistic
    assert gain >= MIN_GAIN, f"held-out SRCC gain over mean pooling {gain:.3f}"
    peaks = np.array([np.argmax(w) for w in attention])
    peaked = np.mean((stretch[test] <= peaks) & (peaks < stretch[test] + STRETCH))
    assert peaked >= MIN_PEAKED, f"attention peaks on the informative stretch for only {peaked:.0%} of the clips"
