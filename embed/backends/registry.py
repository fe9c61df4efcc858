"""The registry of embedders: name -> class, with sample rate and dimensions.

Built-in backends register themselves with :func:`register`. A name may also be a
plugin: ``path/to/file.py:ClassName``, or an installed package's entry point in the
group ``clapmos.embedders`` (see :mod:`clapmos.embed.backends.plugins`); built-in names win.

>>> from clapmos.embed.backends import available_embedders
>>> "spectral" in available_embedders()
True
>>> get_embedder_class("spectral").sample_rate
16000
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, TypeVar

from clapmos.embed.backends.base import Embedder
from clapmos.embed.backends.plugins import entry_points, is_file_spec, load_entry_point, load_file_plugin, plugin_source
from clapmos.embed.errors import ClapmosError

log = logging.getLogger(__name__)
_REGISTRY: dict[str, type[Embedder]] = {}
E = TypeVar("E", bound=type[Embedder])

#: One line per built-in embedder: its name and the module that registers it (imported on first use).
BUILTIN_EMBEDDERS: dict[str, str] = {
    "clap": "clapmos.embed.backends.clap",
    "hf-audio": "clapmos.embed.backends.hf_audio",
    "hf-clap": "clapmos.embed.backends.hf_clap",
    "m2d": "clapmos.embed.backends.m2d",
    "spectral": "clapmos.embed.backends.spectral",
}


def _builtin(name: str) -> type[Embedder] | None:
    if name in BUILTIN_EMBEDDERS and name not in _REGISTRY:
        importlib.import_module(BUILTIN_EMBEDDERS[name])
    return _REGISTRY.get(name)


def _all_builtins() -> None:
    for name in BUILTIN_EMBEDDERS:
        _builtin(name)


def register(cls: E) -> E:
    """Class decorator adding an :class:`Embedder` subclass to the registry under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"embedder name {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def available_embedders() -> dict[str, type[Embedder]]:
    """All embedders by name: the built-in ones and installed packages' entry points (a broken one is skipped, logged)."""
    _all_builtins()
    found = dict(_REGISTRY)
    for name, point in entry_points().items():
        if name in found:
            continue
        try:
            found[name] = load_entry_point(point, _REGISTRY)
        except ClapmosError as error:
            log.warning("%s", error)
    return dict(sorted(found.items()))


def get_embedder_class(name: str) -> type[Embedder]:
    """The class of embedder ``name``: built-in, ``file.py:Class``, or entry point; a clear error otherwise."""
    if name in _REGISTRY or name in BUILTIN_EMBEDDERS:
        return _builtin(name)
    if is_file_spec(name):
        _all_builtins()  # built-in names win
        return load_file_plugin(name, _REGISTRY)
    points = entry_points()
    if name in points:
        _all_builtins()
        return load_entry_point(points[name], _REGISTRY)
    raise ClapmosError(
        f"--embedder {name!r}: unknown embedder; available: {', '.join(dict.fromkeys([*BUILTIN_EMBEDDERS, *_REGISTRY, *points]))}, "
        "or your own class as path/to/file.py:ClassName"
    )


def create_embedder(embedder: str, /, **options: Any) -> Embedder:
    """Instantiate the embedder ``embedder`` with its options (not loaded yet; ``name=`` renames its features)."""
    cls = get_embedder_class(embedder)
    source = plugin_source(cls)
    if source is None:
        return cls(**options)
    try:
        return cls(**options)
    except Exception as error:
        raise ClapmosError(f"{source}: {cls.__name__}({', '.join(f'{k}=...' for k in options)}) failed: {type(error).__name__}: {error}") from None
