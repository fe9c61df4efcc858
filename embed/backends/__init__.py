"""Embedding backends and their registry.

Importing this package registers every built-in embedder. Heavy dependencies
(laion-clap, transformers, the user's M2D module) are imported only when a model is loaded.
"""

from clapmos.embed.backends.base import Embedder
from clapmos.embed.backends.registry import available_embedders, create_embedder, get_embedder_class, register
from clapmos.embed.backends import clap, hf_audio, hf_clap, m2d, spectral  # noqa: F401  (register the built-in embedders)

__all__ = ["Embedder", "available_embedders", "create_embedder", "get_embedder_class", "register"]
