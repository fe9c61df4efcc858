"""`fit --recipe xacle2027-baseline`: XACLE 2027 official baseline: M2D-CLAP audio+text into an MLP, class-balanced clipped MSE + pairwise."""

from __future__ import annotations

from clapmos.heads.runs.recipes.base import ENSEMBLE_WHY, FOLDS, HELD_OUT, Recipe, Setting, same

_XACLE2027_MLP = {
    "mlp.hidden_sizes": (1024, 256),
    "mlp.activation": "relu",
    "mlp.dropout": (0.3, 0.0),
    "mlp.loss": "clipped_mse",
    "mlp.tau": 0.25,
    "mlp.pairwise_weight": 0.5,
    "mlp.margin": 0.1,
    "mlp.class_balance": "published",
    "mlp.beta": 0.99,
    "mlp.target_scaling": (5.0, 5.0),
    "mlp.optimizer": "adam",
    "mlp.lr": 2e-5,
    "mlp.weight_decay": 0.0,
    "mlp.batch_size": 12,
    "mlp.drop_last": True,
    "mlp.max_epochs": 20,
    "mlp.patience": 10,
    "mlp.monitor": "srcc",
    "mlp.keep_initial": False,
    "mlp.scale": "passthrough",
    "mlp.features__unit_norm": True,
}


RECIPE = Recipe(
    name="xacle2027-baseline",
    reproduces="XACLE 2027 official baseline: M2D-CLAP audio+text into an MLP, class-balanced clipped MSE + pairwise",
    source="second XACLE challenge (2027) official baseline; METHODS.md §5",
    figure="validation SRCC 0.5844 (LCC 0.5995, KTAU 0.4186, MSE 3.6368); test SRCC 0.5648",
    settings={"embedders": ["m2d"], "heads": ["mlp"], "features": ["audio", "text"], "random_state": 42, "params": _XACLE2027_MLP},
    comparison=(
        same("features", "frozen M2D-CLAP 2025 audio and text embeddings (768-d each), each L2-normalised"),
        same("network", "Linear(1536→1024), ReLU, Dropout 0.3, Linear(1024→256), ReLU, then Linear(256→1)"),
        same("targets", "y' = (average_score − 5)/5"),
        same("loss", "Loss = 1.0 × ClippedMSE + 0.5 × Pairwise, both \"class-balanced\" with β = 0.99"),
        same("clipped MSE", "the term equals (1/B) × mean_i(1[|ŷ_i − y_i| > τ] · e_i)"),
        same("pairwise", "Pairwise (margin 0.1)"),
        Setting("class counts", "n_c = number of training clips in the clip's bin", "clips of the rows the model is fitted on in the bin",
                "a fold model counts its fold's rows (--cv 1: the whole training split)"),
        same("optimiser", "Adam lr 2e-5, batch 12 (drop last), 20 epochs"),
        Setting("early stopping", "early stop patience 10 on validation SRCC, best checkpoint by validation SRCC",
                f"patience 10 on validation SRCC, best trained epoch (keep_initial false); {FOLDS}", HELD_OUT),
        same("seed", "seed 42", "42: the model of --cv 1, and every fold model of the first repetition (config.json model_seeds)"),
        Setting("protocol", "(one model trained on train, early-stopped on validation)", "5-fold ensemble on the training split", ENSEMBLE_WHY),
    ),
)
