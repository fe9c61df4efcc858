"""Simulated listening test on frames: ``attn_mlp`` with ``output="distribution"`` finds the stretch that says how much listeners disagree.

Clips are sequences of 12-20 frame tokens of 16 numbers, mostly noise. Each clip has a
latent quality ``q`` and a known listener spread ``s`` (log-uniform from 0.2 to 3
points); 3 consecutive tokens carry a marker, ``q`` along one direction and ``log s``
along another, the rest is neutral. Four listeners rate every clip
``round(5 + 1.5 q + s·ε)``, clipped to 0-10, and the heads train on the clip means
(the listening test of ``tests/test_dist_simulation.py``, whose features are clip
vectors). A clip whose listeners disagree has a noisier mean, so a head that predicts a
distribution should predict a wider one for it, and it can only know which clips those
are by listening to the stretch. On 300 held-out clips:

* the predicted mean ranks clips by ``q`` about as well as the score-output
  ``attn_mlp`` trained on the same means (SRCC within 0.03; measured for seeds 0-9:
  both 0.86-0.91, distribution minus score from -0.014 to +0.009);
* the predicted standard deviation ranks clips by their true spread (Spearman 0 ± 0.06
  by chance; asserted >= 0.25; measured 0.37-0.65 for seeds 0-9). The score output
  predicts no spread at all (``return_std`` is refused).

Each seed takes about 2 s in one torch thread.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from clapmos.embed.store.frames import Frames
from clapmos.heads import AttentionMLPRegressor
from tests.test_dist_simulation import clip_means, quality_and_spread

N_TRAIN, N_TEST, DIM, STRETCH = 900, 300, 16, 3
MIN_SPREAD_SRCC, MAX_MEAN_GAP = 0.25, 0.03
SETTINGS = {"d_model": 32, "n_heads": 2, "hidden_sizes": (32,), "max_epochs": 30, "lr": 3e-3, "listener_targets": False, "random_state": 0}
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def spread_in_a_stretch(seed: int):
    """Frames, the clip means of the ratings, the latent quality and the true listener spread."""
    rng = np.random.default_rng(seed)
    quality, spread = quality_and_spread(rng, N_TRAIN + N_TEST)
    marker, quality_direction, spread_direction = np.linalg.qr(rng.normal(size=(DIM, 3)))[0].T
    sequences = []
    for i, length in enumerate(rng.integers(12, 21, size=len(quality))):
        tokens = rng.normal(size=(length, DIM))
        start = rng.integers(0, length - STRETCH + 1)
        tokens[start : start + STRETCH] += 3.0 * marker + 1.5 * quality[i] * quality_direction + 1.5 * np.log(spread[i]) * spread_direction
        sequences.append(tokens)
    return Frames.from_list(sequences), clip_means(quality, spread, rng), quality, spread


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_distribution_output_predicts_the_listeners_spread_and_ranks_like_the_score_output(seed):
    frames, clip_means, quality, spread = spread_in_a_stretch(seed)
    train, test = np.arange(N_TRAIN), np.arange(N_TRAIN, N_TRAIN + N_TEST)
    distribution = AttentionMLPRegressor(output="distribution", **SETTINGS).fit(frames[train], clip_means[train])
    mean, std = distribution.predict(frames[test], return_std=True)
    score = AttentionMLPRegressor(**SETTINGS).fit(frames[train], clip_means[train])

    spread_srcc = spearmanr(std, spread[test]).statistic
    gap = spearmanr(mean, quality[test]).statistic - spearmanr(score.predict(frames[test]), quality[test]).statistic
    assert spread_srcc >= MIN_SPREAD_SRCC, f"seed {seed}: std vs true spread SRCC {spread_srcc:.3f}"
    assert abs(gap) <= MAX_MEAN_GAP, f"seed {seed}: mean SRCC of the distribution output minus the score output's {gap:+.3f}"
    with pytest.raises(ValueError, match="return_std=True needs output='distribution'"):
        score.predict(frames[test], return_std=True)


if __name__ == "__main__":  # the figures quoted above: python tests/test_frame_dist_simulation.py 0 1 2 3
    import sys
    import time

    import torch

    torch.set_num_threads(1)
    for seed in map(int, sys.argv[1:] or ["0"]):
        started = time.perf_counter()
        frames, means, quality, spread = spread_in_a_stretch(seed)
        train, test = np.arange(N_TRAIN), np.arange(N_TRAIN, N_TRAIN + N_TEST)
        dist = AttentionMLPRegressor(output="distribution", **SETTINGS).fit(frames[train], means[train])
        mean, std = dist.predict(frames[test], return_std=True)
        score = AttentionMLPRegressor(**SETTINGS).fit(frames[train], means[train]).predict(frames[test])
        print(
            f"seed {seed}: spread {spearmanr(std, spread[test]).statistic:.3f}  "
            f"mean vs q dist {spearmanr(mean, quality[test]).statistic:.3f} score {spearmanr(score, quality[test]).statistic:.3f}  "
            f"vs clip means dist {spearmanr(mean, means[test]).statistic:.3f} score {spearmanr(score, means[test]).statistic:.3f}  "
            f"epochs {dist.best_epoch_}  {time.perf_counter() - started:.1f}s"
        )
