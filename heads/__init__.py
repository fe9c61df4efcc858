"""The fit stage: scikit-learn heads on cached embeddings.

Names are imported on first use (PEP 562), so ``import heads`` stays cheap and torch
is loaded only by the heads that need it.

>>> from clapmos import heads
>>> head = heads.make_head("ridge", target="overall")
>>> sorted(heads.HEAD_NAMES)
['aligned', 'attn_mlp', 'bt', 'coral', 'cosine', 'dist', 'ldnet', 'lgbm', 'mlp', 'moe', 'ridge', 'spo_mlp', 'svr', 'xattn']
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AttentionMLPRegressor": "clapmos.heads.attn_mlp",
    "BradleyTerryRegressor": "clapmos.heads.bt",
    "comparison_arrays": "clapmos.heads.inputs.comparisons",
    "EXPECTED_FAILED_CHECKS": "clapmos.heads.runs.conformance",
    "CVEnsemble": "clapmos.heads.runs.ensemble",
    "CoralRegressor": "clapmos.heads.coral",
    "CorpusAlignedRegressor": "clapmos.heads.aligned",
    "DistributionRegressor": "clapmos.heads.dist",
    "ListenerConditionedRegressor": "clapmos.heads.ldnet",
    "MixtureOfExpertsRegressor": "clapmos.heads.moe",
    "RegressionLoss": "clapmos.heads.nn.losses",
    "RECIPES": "clapmos.heads.runs.recipes",
    "Recipe": "clapmos.heads.runs.recipes",
    "SvrRegressor": "clapmos.heads.svr",
    "BLOCK_ORDER": "clapmos.heads.inputs.features",
    "PairedEmbeddingFeatures": "clapmos.heads.inputs.features",
    "pairwise_hinge": "clapmos.heads.nn.losses",
    "TorchMLPRegressor": "clapmos.heads.mlp",
    "PerTargetRegressor": "clapmos.heads.inputs.per_target",
    "ItemTargets": "clapmos.heads.inputs.ratings",
    "ListenerStatistics": "clapmos.heads.inputs.ratings",
    "NoListenerRatingsWarning": "clapmos.heads.inputs.ratings",
    "item_targets": "clapmos.heads.inputs.ratings",
    "listener_matrices": "clapmos.heads.inputs.ratings",
    "listener_statistics": "clapmos.heads.inputs.ratings",
    "ratings_from_matrices": "clapmos.heads.inputs.ratings",
    "screen_ratings": "clapmos.heads.inputs.ratings",
    "standardize": "clapmos.heads.inputs.ratings",
    "HEAD_NAMES": "clapmos.heads.registry",
    "HeadSpec": "clapmos.heads.registry",
    "default_blocks": "clapmos.heads.registry",
    "head_spec": "clapmos.heads.registry",
    "head_specs": "clapmos.heads.registry",
    "make_head": "clapmos.heads.registry",
    "register_head": "clapmos.heads.registry",
    "SpoCosineRegressor": "clapmos.heads.cosine",
    "SpoMLPRegressor": "clapmos.heads.spo",
    "CrossAttentionRegressor": "clapmos.heads.xattn",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'heads' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
