"""Embedders from outside clapmos: a user's file, or an installed package's entry point.

Two ways to name one wherever an embedder name goes (``embed --embedder``, the Python API):

* ``path/to/file.py:ClassName`` — the file is imported from where it is (never copied),
  under a private module name, once per process and content;
* a name declared by an installed package in the entry-point group ``clapmos.embedders``
  (``[project.entry-points."clapmos.embedders"] muq = "my_package.embedders:MuQ"``).

The class follows the :class:`~clapmos.embed.backends.base.Embedder` contract of the built-in
backends and gets the same store, resume, Dask and provenance behaviour; the store
records the plugin's source and the sha256 of its file (``plugin_sha256``, part of the
features' identity: editing the file makes earlier features stale). Before any audio
is read, the class's attributes are checked when it is found, and its output on a short
synthetic batch right after ``load()`` (:func:`clapmos.embed.backends.contract.check_contract`).
Any problem is one :class:`ClapmosError` naming the file and the class.

>>> is_file_spec("plugins/muq_embedder.py:MuQMuLanEmbedder"), is_file_spec("clap")
(True, False)
>>> split_file_spec("C:/users/me/my.py:Mine")
(PosixPath('C:/users/me/my.py'), 'Mine')
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import re
import sys
import types
from importlib import metadata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clapmos.embed.backends.base import Embedder
from clapmos.embed.errors import ClapmosError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "clapmos.embedders"
VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # a store group name; no "," (it separates fused embedders)
HOW_TO_WRITE = "See the README section \"Your own encoder as a plugin\"."

_SOURCES: dict[type, dict[str, Any]] = {}  # plugin class -> {"source": ..., provenance fields}
_FILE_MODULES: dict[tuple[str, str], types.ModuleType] = {}  # (resolved path, sha256) -> imported module


def is_file_spec(name: str) -> bool:
    """Whether ``name`` has the form ``something.py:ClassName``."""
    path, colon, cls = str(name).rpartition(":")
    return bool(colon) and path.endswith(".py") and cls.isidentifier()


def split_file_spec(spec: str) -> tuple[Path, str]:
    """``(path, class name)`` of a ``file.py:ClassName`` spec."""
    path, _, cls = str(spec).rpartition(":")
    return Path(path).expanduser(), cls


def plugin_source(cls: type) -> str | None:
    """Where a plugin class came from (``file.py:Class`` or ``entry point NAME``); ``None`` for other classes."""
    record = _SOURCES.get(cls)
    return None if record is None else record["source"]


def plugin_spec(cls: type) -> str | None:
    """The ``file.py:Class`` spec that re-imports a file plugin in another process (a Dask worker)."""
    record = _SOURCES.get(cls)
    return None if record is None else record.get("spec")


def plugin_provenance(cls: type) -> dict[str, Any]:
    """What the store records about a plugin class (its source and file hash); ``{}`` for built-ins."""
    record = _SOURCES.get(cls)
    return {} if record is None else {k: v for k, v in record.items() if k != "spec"}


def load_file_plugin(spec: str, builtins: Mapping[str, type] = {}) -> type[Embedder]:
    """Import ``path.py`` (where it is) and return its class ``ClassName``, checked (``builtins``: the names it may not take)."""
    from clapmos.embed.files import file_sha256

    path, name = split_file_spec(spec)
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise ClapmosError(f"--embedder {spec}: the plugin file {path} {state}. Pass path/to/file.py:ClassName. {HOW_TO_WRITE}")
    resolved = path.resolve()
    sha256 = file_sha256(resolved)
    module = _FILE_MODULES.get((str(resolved), sha256)) or _import_file(resolved, sha256, spec)
    _FILE_MODULES[(str(resolved), sha256)] = module
    cls = getattr(module, name, None)
    if cls is None:
        defined = sorted(n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, Embedder) and v is not Embedder)
        raise ClapmosError(
            f"--embedder {spec}: {path} defines no class {name!r}"
            + (f" (its Embedder classes: {', '.join(defined)})." if defined else " (and no Embedder subclass at all).")
        )
    source = f"{path}:{name}"
    check_class(cls, source, builtins)
    _SOURCES.setdefault(
        cls, {"source": source, "spec": f"{resolved}:{name}", "plugin": f"{path.name}:{name}", "plugin_sha256": sha256}
    )
    return cls


def _import_file(path: Path, sha256: str, spec: str) -> types.ModuleType:
    module_name = f"_clapmos_plugin_{sha256[:16]}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ClapmosError(f"--embedder {spec}: {path} is not a Python source file.")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look classes up here
    try:
        loader_spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        hint = " Install what it imports in this environment." if isinstance(error, ImportError) else ""
        raise ClapmosError(f"--embedder {spec}: importing {path} failed: {type(error).__name__}: {error}.{hint}") from None
    return module


def entry_points() -> dict[str, metadata.EntryPoint]:
    """Installed packages' embedders: entry-point name -> entry point (group ``clapmos.embedders``)."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_entry_point(point: metadata.EntryPoint, builtins: Mapping[str, type] = {}) -> type[Embedder]:
    """Import an entry point's class and check it; the store records its package and module hash."""
    from clapmos.embed.files import file_sha256

    source = f"entry point {point.name!r} ({point.value}) of group {ENTRY_POINT_GROUP}"
    try:
        cls = point.load()
    except Exception as error:
        raise ClapmosError(f"{source}: importing it failed: {type(error).__name__}: {error}") from None
    check_class(cls, source, builtins)
    if cls.name != point.name:
        raise ClapmosError(f"{source}: the class is named {cls.name!r}; the entry point's name must be the class's `name`.")
    if cls not in _SOURCES:
        record: dict[str, Any] = {"source": source, "plugin": f"entry point {point.name} = {point.value}"}
        if point.dist is not None:
            record["plugin_package"] = f"{point.dist.name}=={point.dist.version}"
        module_file = inspect.getsourcefile(cls)
        if module_file:
            record["plugin_sha256"] = file_sha256(module_file)
        _SOURCES[cls] = record
    return cls


def check_class(cls: Any, source: str, builtins: Mapping[str, type] = {}) -> type[Embedder]:
    """Refuse a class that cannot be an embedder, naming what is wrong with it (``builtins``: the built-in embedders by name)."""
    if not (isinstance(cls, type) and issubclass(cls, Embedder)):
        raise ClapmosError(f"{source}: {cls!r} is not a subclass of clapmos.embed.backends.Embedder. {HOW_TO_WRITE}")
    problems = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not VALID_NAME.match(name):
        problems.append(f"`name` must be a short identifier (letters, digits, _ . -), got {name!r}")
    elif name in builtins and builtins[name] is not cls:
        problems.append(f"`name` {name!r} is taken by the built-in embedder; choose another")
    for attribute, minimum in (("sample_rate", 1), ("audio_dim", 0), ("text_dim", 0)):
        value = getattr(cls, attribute, None)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            problems.append(f"`{attribute}` must be an integer >= {minimum}, got {value!r}")
    if inspect.isabstract(cls):
        problems.append(f"it does not implement {', '.join(sorted(cls.__abstractmethods__))}")
    if problems:
        raise ClapmosError(f"{source} breaks the Embedder contract:\n" + "\n".join(f"  {p}" for p in problems) + f"\n{HOW_TO_WRITE}")
    return cls
