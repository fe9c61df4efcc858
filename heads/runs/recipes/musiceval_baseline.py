"""`fit --recipe musiceval-baseline`: MusicEval baseline (AudioMOS 2025 Track 1 reference): affine layers on CLAP, L1, SGD."""

from __future__ import annotations

from clapmos.heads.runs.recipes.base import ENSEMBLE_WHY, FOLDS, HELD_OUT, Recipe, Setting, same

_MUSICEVAL_AFFINE = {
    "mlp.hidden_sizes": (256, 64),
    "mlp.activation": "identity",
    "mlp.dropout": 0.0,
    "mlp.loss": "l1",
    "mlp.target_scaling": "none",
    "mlp.optimizer": "sgd",
    "mlp.lr": 5e-4,
    "mlp.momentum": 0.9,
    "mlp.weight_decay": 0.0,
    "mlp.batch_size": 64,
    "mlp.max_epochs": 300,
    "mlp.patience": 20,
    "mlp.monitor": "loss",
    "mlp.scale": "passthrough",
}


RECIPE = Recipe(
    name="musiceval-baseline",
    reproduces="MusicEval baseline (AudioMOS 2025 Track 1 reference): affine layers on CLAP, L1, SGD",
    source="MusicEval (ICASSP 2025) baseline; METHODS.md §2",
    figure="dev system SRCC 0.882 overall / 0.796 textual (utterance 0.761 / 0.581)",
    settings={
        "embedders": ["clap"],
        "heads": ["mlp"],
        "features": {"overall": ["audio"], "textual": ["audio", "text"]},
        "params": _MUSICEVAL_AFFINE,
    },
    comparison=(
        Setting("encoder", "the whole CLAP model was fine-tuned together with the heads", "CLAP frozen: the store's clap embeddings",
                "clapmos trains heads on embeddings computed once"),
        Setting("audio input", "cropped to the first 480,000 samples, and fed to CLAP **without resampling**",
                "every 10 s window, resampled to 48 kHz, embeddings averaged",
                "unresampled 16 kHz audio plays music 3× fast (METHODS.md §2); the windows' mean covers the whole clip"),
        same("overall head", "Overall head: audio embedding only, three linear layers 512 → 256 → 64 → 1"),
        same("textual head", "Textual head: audio and text embeddings concatenated, 1024 → 256 → 64 → 1"),
        same("layers", "No activations between the layers (each head is an affine map), no dropout, raw MOS targets"),
        Setting("loss", "L1 loss per head, summed", "L1 per head, each target's head trained on its own",
                "with a frozen encoder the summed L1 of two heads trains them independently: the same optimum"),
        same("optimiser", "SGD lr 5e-4, momentum 0.9; batch 64"),
        Setting("early stopping", "early stopping with patience 20 on validation L1", f"patience 20 on validation L1; {FOLDS}", HELD_OUT),
        Setting("max epochs", "(not published)", "300", "a bound is needed; early stopping ends training before it"),
        Setting("protocol", "(one model)", "5-fold ensemble", ENSEMBLE_WHY),
    ),
)
