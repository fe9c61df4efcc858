"""The fit stage: scikit-learn heads on cached embeddings.

Names are imported on first use (PEP 562), so ``import heads`` stays cheap and torch
is loaded only by the heads that need it.

>>> import heads
>>> head = heads.make_head("ridge", target="overall")
>>> sorted(heads.HEAD_NAMES)
['attn_mlp', 'coral', 'cosine', 'dist', 'lgbm', 'mlp', 'ridge', 'spo_mlp', 'svr', 'xattn']
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AttentionMLPRegressor": "heads.attn_mlp",
    "EXPECTED_FAILED_CHECKS": "heads.conformance",
    "CVEnsemble": "heads.ensemble",
    "CoralRegressor": "heads.coral",
    "DistributionRegressor": "heads.dist",
    "RegressionLoss": "heads.losses",
    "RECIPES": "heads.recipes",
    "Recipe": "heads.recipes",
    "SvrRegressor": "heads.svr",
    "BLOCK_ORDER": "heads.features",
    "PairedEmbeddingFeatures": "heads.features",
    "SpoLoss": "heads.losses",
    "pairwise_hinge": "heads.losses",
    "TorchMLPRegressor": "heads.mlp",
    "PerTargetRegressor": "heads.per_target",
    "ItemTargets": "heads.ratings",
    "ListenerStatistics": "heads.ratings",
    "NoListenerRatingsWarning": "heads.ratings",
    "item_targets": "heads.ratings",
    "listener_matrices": "heads.ratings",
    "listener_statistics": "heads.ratings",
    "ratings_from_matrices": "heads.ratings",
    "screen_ratings": "heads.ratings",
    "standardize": "heads.ratings",
    "HEAD_NAMES": "heads.registry",
    "HeadSpec": "heads.registry",
    "default_blocks": "heads.registry",
    "head_spec": "heads.registry",
    "head_specs": "heads.registry",
    "make_head": "heads.registry",
    "register_head": "heads.registry",
    "SpoCosineRegressor": "heads.spo",
    "SpoMLPRegressor": "heads.spo",
    "CrossAttentionRegressor": "heads.xattn",
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
