"""Grouped folds estimate the error on unseen systems; ungrouped folds are optimistic (simulation with known truth).

Every simulated system carries a shared effect on its clips' scores and leaves a fingerprint
in their features (as a generator's sound does in an audio embedding). A model can learn a
system's effect from its fingerprint, but only for systems it was trained on. Out-of-fold
error with folds grouped by system (``fit --group system``) must match the error on a true
held-out set of new systems within noise; with ungrouped folds every system is in training,
so the out-of-fold error is too low.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from clapmos.evaluation.fit_report import fold_summary
from clapmos.heads.runs.ensemble import CVEnsemble

CLIP_FEATURES, FINGERPRINT = 5, 60


def systems_data(rng, n_systems: int, clips: int, weights: np.ndarray):
    effect = rng.normal(0, 1.0, n_systems)
    fingerprint = rng.normal(0, 1.0, (n_systems, FINGERPRINT))
    system = np.repeat(np.arange(n_systems), clips)
    z = rng.normal(size=(system.size, CLIP_FEATURES))
    X = np.hstack([z, fingerprint[system] + 0.3 * rng.normal(size=(system.size, FINGERPRINT))])
    y = z @ weights + effect[system] + rng.normal(0, 0.5, system.size)
    return X, y, system


def test_system_grouped_folds_estimate_the_unseen_system_error_and_ungrouped_folds_are_optimistic():
    grouped, ungrouped, unseen = [], [], []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        weights = rng.normal(size=CLIP_FEATURES)
        X, y, system = systems_data(rng, 40, 25, weights)
        X_new, y_new, _ = systems_data(rng, 40, 25, weights)  # new systems, never trained on
        by_system = CVEnsemble([("ridge", Ridge(alpha=1.0))], n_splits=5, random_state=seed).fit(X, y, groups=system)
        by_clip = CVEnsemble([("ridge", Ridge(alpha=1.0))], n_splits=5, random_state=seed).fit(X, y)
        grouped.append(np.mean((by_system.oof_prediction_ - y) ** 2))
        ungrouped.append(np.mean((by_clip.oof_prediction_ - y) ** 2))
        unseen.append(np.mean((by_clip.predict(X_new) - y_new) ** 2))
        info = fold_summary(pd.DataFrame({"system": system.astype(str)}), by_system.test_fold_, "system")
        assert all(f["systems_held_out"] == f["systems"] == 8 for f in info["folds"])  # each fold holds out 8 whole systems
    grouped, ungrouped, unseen = map(np.mean, (grouped, ungrouped, unseen))
    print(f"MSE: grouped folds {grouped:.3f}, ungrouped folds {ungrouped:.3f}, new systems {unseen:.3f}")
    assert abs(grouped - unseen) < 0.15 * unseen  # within noise: the system effects' variance is 1.0
    assert ungrouped < 0.6 * unseen  # optimistic: it has learnt the systems it is scored on
