"""The Zarr feature store: its schema, frame tokens, and replacing what it holds without loss.

>>> from clapmos.embed.store import FeatureStore        # the class users open stores with
"""

from clapmos.embed.store.feature_store import FeatureStore
from clapmos.embed.store.schema import identity_of, is_clapmos_store
from clapmos.embed.store.frames import Frames

__all__ = ["FeatureStore", "Frames", "identity_of", "is_clapmos_store"]
