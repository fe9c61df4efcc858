"""`fit --recipe astar-distribution`: AudioMOS 2025 Track-1 winner's heads: distribution over 20 bins (Gaussian, one-hot) and CORAL, stacked."""

from __future__ import annotations

from clapmos.heads.runs.recipes.base import HELD_OUT, Recipe, Setting, same

_ASTAR = {
    "dist.n_bins": 20,
    "dist.sigma": 0.25,
    "dist.score_range": (1.0, 5.0),
    "dist:onehot.sigma": 0.0,
    "coral.n_bins": 20,
    "coral.score_range": (1.0, 5.0),
}

ASTAR_SHARED = (
    Setting("encoder", "Frozen MuQ (music SSL, 1024-d frames at 25 Hz, 24 kHz input) and frozen RoBERTa-base",
            "the store's clap clip embeddings (512-d audio and text)", "clapmos has no MuQ embedder"),
    same("bins", "K = 20 bins with centres c_k = linspace(1, 5, 20)"),
    same("Gaussian targets", "p_k ∝ exp(−(s − c_k)²/(2σ²)), σ = 0.25"),
    same("loss", "loss KL(p ‖ q) averaged over the batch"),
    same("prediction", "Prediction: Σ_k q_k·c_k"),
)

#: how both astar recipes combine their members, published and ours
ASTAR_STACKING = (
    Setting("stacking", "stacked by a Ridge(alpha=1) (or LightGBM) meta-model on their concatenated bin distributions",
            "Ridge(alpha=1) on their expected scores", "CVEnsemble stacks the members' scores, not their distributions"),
    Setting("stacked on", "fitted on the dev split", "out-of-fold predictions of the training split", HELD_OUT),
)


RECIPE = Recipe(
    name="astar-distribution",
    reproduces="AudioMOS 2025 Track-1 winner's heads: distribution over 20 bins (Gaussian, one-hot) and CORAL, stacked",
    source="AudioMOS 2025 Track 1 winner; METHODS.md §5",
    figure="test system SRCC 0.991 overall / 0.952 textual",
    settings={
        "embedders": ["clap"],
        "heads": ["dist", "dist:onehot", "coral"],
        "features": {"overall": ["audio"], "textual": ["audio", "text"]},
        "stack": True,
        "stack_method": "ridge",
        "params": _ASTAR,
    },
    comparison=(
        *ASTAR_SHARED,
        Setting("network", "Overall branch: Transformer layers over the audio frames, attentive pooling, MLP",
                "MLPs on clip embeddings: audio for overall, audio and text for textual", "clip embeddings only (astar-frames reads frames)"),
        same("one-hot variant", "(one-hot variant: the nearest bin)", "dist:onehot (σ 0)"),
        same("CORAL", "CORAL variant: K − 1 binary tasks", "coral (20 bins)"),
        Setting("models", "Final submission: 8 such models", "3 heads, each a 5-fold ensemble", "one model per head type; add heads to taste"),
        *ASTAR_STACKING,
    ),
)
