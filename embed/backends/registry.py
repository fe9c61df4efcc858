"""The registry of embedders: name -> class, with sample rate and dimensions.

>>> from embed.backends import available_embedders
>>> "spectral" in available_embedders()
True
>>> get_embedder_class("spectral").sample_rate
16000
"""

from __future__ import annotations

from typing import Any, TypeVar

from embed.backends.base import Embedder
from embed.errors import ClapmosError

_REGISTRY: dict[str, type[Embedder]] = {}
E = TypeVar("E", bound=type[Embedder])


def register(cls: E) -> E:
    """Class decorator adding an :class:`Embedder` subclass to the registry under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"embedder name {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def available_embedders() -> dict[str, type[Embedder]]:
    """All registered embedders, by name."""
    return dict(sorted(_REGISTRY.items()))


def get_embedder_class(name: str) -> type[Embedder]:
    """The class registered under ``name``; a clear error listing the names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ClapmosError(f"--embedder {name!r}: unknown embedder; available: {', '.join(available_embedders())}") from None


def create_embedder(name: str, **options: Any) -> Embedder:
    """Instantiate the embedder ``name`` with its options (not loaded yet)."""
    return get_embedder_class(name)(**options)
