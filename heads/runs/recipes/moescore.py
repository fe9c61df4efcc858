"""`fit --recipe moescore`: XACLE 2026 winner (MoEScore): one expert per encoder, a per-input gating network weighing their scores."""

from __future__ import annotations

from clapmos.heads.runs.recipes.base import Recipe, Setting, same

RECIPE = Recipe(
    name="moescore",
    reproduces="XACLE 2026 winner (MoEScore): one expert per encoder, a per-input gating network weighing their scores",
    source="MoEScore (XACLE 2026 winner, arXiv 2601.06829); METHODS.md §8",
    figure="test SRCC 0.6402 (validation: one CLAP expert 0.626-0.630, three 0.648, four 0.668)",
    settings={"embedders": ["m2d", "clap"], "heads": ["moe"], "features": ["audio", "text", "cosine"]},
    comparison=(
        Setting("experts", "experts on LAION-CLAP, MGA-CLAP and M2D-CLAP features plus a BEATs + RoBERTa cross-attention expert",
                "two experts, m2d and clap: an MLP (one hidden layer of 64) on each embedder's audio, text and cosine blocks",
                "clapmos has no MGA-CLAP, BEATs or RoBERTa-token embedders"),
        same("gate", "a gating network weighs the experts' outputs per input",
             "a linear softmax gate on all the blocks, trained jointly with the experts"),
        Setting("network sizes", "(not published)", "one hidden layer of 64 per expert; a linear gate", "clapmos's moe defaults"),
        Setting("loss", "(not published)", "MSE on standardised targets, plus 0.1 x each expert's own MSE", "clapmos's moe defaults"),
        Setting("optimiser", "(not published)", "AdamW 1e-3, batch 64, up to 100 epochs, early stopping on validation SRCC",
                "clapmos's moe defaults"),
        Setting("seed", "(not published)", "clapmos's default seed", "not published"),
        Setting("models", "(one model)", "a 5-fold ensemble", "clapmos's default --cv 5; --cv 1 trains one"),
        same("training data", "(the XACLE training split, its validation split held out)", "--split train, --eval-split validation"),
    ),
)
