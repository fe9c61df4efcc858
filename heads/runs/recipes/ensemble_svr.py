"""`fit --recipe ensemble-svr`: XACLE second place (EnsembleSVR): RBF SVRs on CLAP embeddings + proximity features, blended, clipped."""

from __future__ import annotations

from clapmos.heads.runs.recipes.base import Recipe, Setting, same

_ENSEMBLE_SVR = {
    "svr.C": 0.5,
    "svr.gamma": "scale",
    "svr.target_scaling": (5.0, 5.0),
    "svr:a.epsilon": 0.08,
    "svr:a.features__embedders": ("m2d",),
    "svr:a.features__blocks": ("audio", "text", "cosine", "angular", "l1", "l2"),
    "svr:b.epsilon": 0.02,
    "svr:b.features__embedders": ("clap",),
    "svr:b.features__blocks": ("audio", "text", "l1"),
}


RECIPE = Recipe(
    name="ensemble-svr",
    reproduces="XACLE second place (EnsembleSVR): RBF SVRs on CLAP embeddings + proximity features, blended, clipped",
    source="XACLE 2026 second place; METHODS.md §5",
    figure="test SRCC 0.638 (LCC 0.685, KTAU 0.460, MSE 2.826)",
    settings={
        "embedders": ["m2d", "clap"],
        "heads": ["svr:a", "svr:b"],
        "stack": True,
        "stack_method": "nnls",
        "clip": [0.0, 10.0],
        "params": _ENSEMBLE_SVR,
    },
    comparison=(
        Setting("SVR A inputs", "SVR A: [M2D-CLAP, MS-CLAP, MGA-CLAP] blocks above",
                "svr:a: m2d audio, text, cosine, angular, L1, L2", "clapmos has no MS-CLAP or MGA-CLAP embedder"),
        Setting("SVR B inputs", "SVR B: LAION-CLAP audio + text + L1, plus Whisper features", "svr:b: clap audio, text, L1",
                "no Whisper features by default (add an embedder with --param svr:b.features__embedders=[...])"),
        Setting("distance maxima", "each divided by its maximum", "maxima learnt on the training rows",
                "the published code took them over whichever split it transformed; an estimator learns them in fit"),
        same("preprocessing", "Preprocessing: `Normalizer()` (unit rows) then `StandardScaler()`"),
        same("SVR", "RBF kernel, C = 0.5, γ = \"scale\", ε = 0.08 (A) and 0.02 (B)"),
        same("targets", "Targets (y − 5)/5"),
        Setting("blend", "w fitted by TNC to minimise training RMSE", "non-negative weights, no intercept, fitted by NNLS on out-of-fold predictions",
                "in-sample RBF-SVR predictions overfit, so their weights would be too; non-negative (the published TNC had no bounds) "
                "keeps a member from being subtracted"),
        same("clip", "clipped to [0, 10]"),
        Setting("protocol", "(one model per SVR)", "each SVR a 5-fold ensemble", "the blend needs out-of-fold predictions"),
    ),
    fixed={"features": "its two SVRs read their own blocks; change them with --param svr:a.features__blocks=[...]"},
)
