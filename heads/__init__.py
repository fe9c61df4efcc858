"""The fit stage: scikit-learn heads on cached paired (audio | text) embeddings.

>>> head = make_head("ridge", target="overall")
>>> sorted(HEAD_NAMES)
['cosine', 'lgbm', 'mlp', 'ridge', 'spo_mlp']
"""

from heads.conformance import EXPECTED_FAILED_CHECKS
from heads.ensemble import CVEnsemble
from heads.features import BLOCK_ORDER, PairedEmbeddingFeatures
from heads.losses import SpoLoss, pairwise_hinge
from heads.mlp import TorchMLPRegressor
from heads.per_target import PerTargetRegressor
from heads.ratings import (
    ItemTargets,
    ListenerStatistics,
    NoListenerRatingsWarning,
    item_targets,
    listener_matrices,
    listener_statistics,
    ratings_from_matrices,
    screen_ratings,
    standardize,
)
from heads.registry import HEAD_NAMES, default_blocks, make_head
from heads.spo import SpoCosineRegressor, SpoMLPRegressor

__all__ = [
    "BLOCK_ORDER",
    "CVEnsemble",
    "EXPECTED_FAILED_CHECKS",
    "HEAD_NAMES",
    "ItemTargets",
    "ListenerStatistics",
    "NoListenerRatingsWarning",
    "PairedEmbeddingFeatures",
    "PerTargetRegressor",
    "SpoCosineRegressor",
    "SpoLoss",
    "SpoMLPRegressor",
    "TorchMLPRegressor",
    "default_blocks",
    "item_targets",
    "listener_matrices",
    "listener_statistics",
    "make_head",
    "pairwise_hinge",
    "ratings_from_matrices",
    "screen_ratings",
    "standardize",
]
