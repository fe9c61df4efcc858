"""Embedding backends and their registry.

The built-in embedders are one line each in :data:`~clapmos.embed.backends.registry.BUILTIN_EMBEDDERS`;
their modules register themselves when first asked for, so an unknown name is answered
without importing any of them. Heavy dependencies (laion-clap, transformers, the user's M2D
module) are imported only when a model is loaded.
"""

from clapmos.embed.backends.base import Embedder
from clapmos.embed.backends.registry import available_embedders, create_embedder, get_embedder_class, register

__all__ = ["Embedder", "available_embedders", "create_embedder", "get_embedder_class", "register"]
