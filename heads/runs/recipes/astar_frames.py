"""`fit --recipe astar-frames`: AudioMOS 2025 Track-1 winner's architecture: attention over frozen frame tokens, distribution heads, stacked."""

from __future__ import annotations

from clapmos.heads.runs.recipes.astar_distribution import ASTAR_SHARED, ASTAR_STACKING
from clapmos.heads.runs.recipes.base import Recipe, Setting, same

_ASTAR_BINS = {"output": "distribution", "n_bins": 20, "sigma": 0.25, "score_range": (1.0, 5.0)}

_ASTAR_FRAMES = {
    **{f"attn_mlp.{key}": value for key, value in _ASTAR_BINS.items()},
    **{f"xattn.{key}": value for key, value in _ASTAR_BINS.items()},
    "attn_mlp.n_layers": 2,
    "attn_mlp:onehot.sigma": 0.0,
    "xattn:onehot.sigma": 0.0,
}


RECIPE = Recipe(
    name="astar-frames",
    reproduces="AudioMOS 2025 Track-1 winner's architecture: attention over frozen frame tokens, distribution heads, stacked",
    source="AudioMOS 2025 Track 1 winner; METHODS.md §5-6",
    figure="test system SRCC 0.991 overall / 0.952 textual",
    settings={
        "embedders": ["clap"],
        "heads": ["attn_mlp", "attn_mlp:onehot", "xattn", "xattn:onehot"],
        "head_targets": {"attn_mlp": ["overall"], "attn_mlp:onehot": ["overall"], "xattn": ["textual"], "xattn:onehot": ["textual"]},
        "features": {"overall": ["audio"], "textual": ["audio", "text"]},
        "stack": True,
        "stack_method": "ridge",
        "params": _ASTAR_FRAMES,
    },
    comparison=(
        Setting("encoder", "Frozen MuQ (music SSL, 1024-d frames at 25 Hz, 24 kHz input) and frozen RoBERTa-base",
                "clap frame tokens (HTSAT's feature map, 3.2 per second; embed --frames)", "clapmos has no MuQ embedder"),
        Setting("overall branch", "Overall branch: Transformer layers over the audio frames, attentive pooling, MLP",
                "attn_mlp and attn_mlp:onehot on the audio tokens only, 2 encoder layers", "the number of layers is not published"),
        Setting("textual branch", "Textual branch: the text tokens cross-attend to the audio frames",
                "xattn and xattn:onehot: the prompt's text vector queries the audio tokens",
                "the store keeps one text vector per prompt, not its tokens"),
        *ASTAR_SHARED[1:],
        same("one-hot variant", "(one-hot variant: the nearest bin)", "attn_mlp:onehot, xattn:onehot (σ 0)"),
        Setting("models", "Final submission: 8 such models", "2 per target, each a 5-fold ensemble", "one model per target type"),
        *ASTAR_STACKING,
    ),
)
