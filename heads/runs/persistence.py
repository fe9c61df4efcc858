"""Saving fitted heads without pickle: skops for the scikit-learn parts, safetensors for
torch weights, LightGBM's own text format for boosters, JSON for the manifest.

A saved model is a folder::

    model.json             format, version, sha256 of every file, the torch/LightGBM parts
    model.skops            the estimator tree, with torch modules and boosters replaced by references
    torch-<k>.safetensors  weights of each torch module
    lightgbm-<k>.txt       each LightGBM booster as LightGBM writes it
    linear.npz             for a linear ensemble, its arrays (:mod:`clapmos.heads.runs.linear_form`):
                           :func:`load_linear` predicts with them without importing scikit-learn or skops

Loading checks the hashes, refuses any type in ``model.skops`` outside
:func:`trusted_types` (so a tampered file cannot run code), then rebuilds torch
modules through their owner's ``_new_module()`` and loads the weights with
``safetensors``; no ``pickle.load`` and no ``torch.load`` of pickles happen anywhere.

>>> import tempfile, numpy as np
>>> from sklearn.linear_model import Ridge
>>> folder = tempfile.mkdtemp()
>>> save_model(Ridge().fit(np.eye(3), [1.0, 2.0, 3.0]), folder)
>>> load_model(folder).predict(np.eye(3)).round(2).tolist()
[1.5, 2.0, 2.5]
"""

from __future__ import annotations

import copy
import io
import json
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clapmos.embed.errors import ClapmosError
from clapmos.embed.files import file_sha256

if TYPE_CHECKING:
    from clapmos.heads.runs.linear_form import LinearForm

MODEL_FORMAT = "clapmos-model"
MODEL_VERSION = 1

#: Types, beyond skops' defaults (scikit-learn, numpy, scipy, builtins), that any model file may hold;
#: each head adds its own (``HeadSpec.types``), see :func:`trusted_types`.
BASE_TRUSTED_TYPES = (
    "collections.OrderedDict",
    "clapmos.heads.runs.persistence.PartReference",
    "clapmos.heads.runs.ensemble.CVEnsemble",
    "clapmos.heads.inputs.features.PairedEmbeddingFeatures",
)


#: Where the classes of models saved before 0.2 (when the heads were the top-level package ``heads``)
#: live now; :func:`load_model` reads their files under these names, so old runs still load.
LEGACY_MODULES = {
    **{f"heads.{name}": f"clapmos.heads.{name}" for name in ("ridge", "lgbm", "mlp", "spo", "svr", "dist", "coral", "attn_mlp", "xattn")},
    "heads.ensemble": "clapmos.heads.runs.ensemble",
    "heads.persistence": "clapmos.heads.runs.persistence",
    "heads.features": "clapmos.heads.inputs.features",
    "heads.proximity": "clapmos.heads.inputs.proximity",
    "heads.frame_inputs": "clapmos.heads.inputs.frame_inputs",
    "heads.per_target": "clapmos.heads.inputs.per_target",
}

#: Classes that moved to a module of their own after models were saved under the old one:
#: ``(old module, class) -> module now`` (the ``cosine`` head left ``spo.py`` for ``cosine.py`` in 0.2).
LEGACY_CLASSES = {
    ("clapmos.heads.spo", "SpoCosineRegressor"): "clapmos.heads.cosine",
    ("clapmos.heads.spo", "AffineCosine"): "clapmos.heads.cosine",
}


def trusted_types(heads: Iterable[str] | None = None) -> list[str]:
    """The types a model file may hold: the base ones and those of ``heads`` (member names; ``None``: every head).

    Only the modules of ``heads`` are imported, so the types of a ridge run cost neither
    torch nor LightGBM:

    >>> [t for t in trusted_types(["ridge"]) if "lightgbm" in t or "torch" in t.lower()]
    []
    >>> "lightgbm.sklearn.LGBMRegressor" in trusted_types(["ridge", "lgbm"])
    True
    """
    from clapmos.heads.registry import HEAD_NAMES, head_spec

    names = set(BASE_TRUSTED_TYPES)
    for head in dict.fromkeys(HEAD_NAMES if heads is None else heads):
        names |= {f"{cls.__module__}.{cls.__qualname__}" for cls in head_spec(head).types}
    return sorted(names)


class PartReference:
    """Stands in the skops tree for a part saved in its own file (torch weights, a booster)."""

    def __init__(self, kind: str = "", key: str = "") -> None:
        self.kind = kind
        self.key = key


def skops_io() -> Any:
    """``skops.io``, imported without its walk of every scikit-learn module.

    When imported, skops lists scikit-learn's estimators (``sklearn.utils.all_estimators``,
    which imports every scikit-learn package, and through its array-API shim torch: seconds,
    most of a cached ``score``'s time) to trust them by default. clapmos gives skops its own
    list instead (:func:`trusted_types`, with :func:`sklearn_estimator_types` for the
    scikit-learn types a file holds, the same rule as skops' list), so the walk is skipped
    while skops is imported. When skops was already imported, nothing changes.
    """
    if "skops.io" not in sys.modules:
        import sklearn.utils

        walk = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = lambda *args, **kwargs: []  # skops' import-time default list: empty
        try:
            import skops.io  # noqa: F401
        finally:
            sklearn.utils.all_estimators = walk
    import skops.io as sio

    return sio


#: Parts of a module path that skops' default list (``all_estimators``) never looks into.
_UNLISTED_MODULES = {"tests", "externals", "setup", "conftest", "experimental", "estimator_checks"}


def sklearn_estimator_types(names: Iterable[str]) -> list[str]:
    """Those of ``names`` that skops trusts by default: scikit-learn's public, concrete estimators.

    The rule of ``sklearn.utils.all_estimators`` (a class, not private, not abstract, a
    ``BaseEstimator`` other than itself, reached from a public scikit-learn module), checked
    for the names given only: only their modules are imported.

    >>> sklearn_estimator_types(["sklearn.linear_model._ridge.RidgeCV", "sklearn.base.BaseEstimator", "os.system"])
    ['sklearn.linear_model._ridge.RidgeCV']
    """
    import importlib
    import inspect

    from sklearn.base import BaseEstimator

    out = []
    for name in names:
        module_name, _, class_name = name.rpartition(".")
        if not module_name.startswith("sklearn.") or _UNLISTED_MODULES & set(module_name.split(".")) or class_name.startswith("_"):
            continue
        try:
            cls = getattr(importlib.import_module(module_name), class_name, None)
            public = getattr(importlib.import_module(module_name.split("._")[0]), class_name, None)
        except ImportError:
            continue
        if (isinstance(cls, type) and cls is public and issubclass(cls, BaseEstimator) and cls is not BaseEstimator
                and not inspect.isabstract(cls) and f"{cls.__module__}.{cls.__qualname__}" == name):
            out.append(name)
    return sorted(out)


def save_model(model: Any, folder: str | Path) -> None:
    """Write a fitted estimator (any tree of scikit-learn objects and clapmos heads) to ``folder``."""
    from sklearn.base import BaseEstimator

    from clapmos.heads.runs.linear_form import linear_form

    sio = skops_io()
    # a torch module or a booster in the tree means its package is loaded: neither is imported for a ridge model
    torch, lightgbm = sys.modules.get("torch"), sys.modules.get("lightgbm")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tree = copy.deepcopy(model)
    for owner, _, value in list(_walk(tree)):
        if isinstance(value, BaseEstimator):
            # metadata-routing requests point back at their owner (a cycle skops cannot write);
            # they only matter while fitting
            vars(value).pop("_metadata_request", None)
    vars(tree).pop("_metadata_request", None)
    parts = []
    for owner, attr, value in list(_walk(tree)):
        if torch is not None and isinstance(value, torch.nn.Module):
            from safetensors.torch import save_file

            key = f"torch-{len(parts)}"
            state = {k: v.detach().cpu().contiguous() for k, v in value.state_dict().items()}
            save_file(state, folder / f"{key}.safetensors")
            parts.append({"kind": "torch", "key": key, "file": f"{key}.safetensors"})
        elif lightgbm is not None and isinstance(value, lightgbm.Booster):
            key = f"lightgbm-{len(parts)}"
            (folder / f"{key}.txt").write_text(value.model_to_string())
            parts.append({"kind": "lightgbm", "key": key, "file": f"{key}.txt"})
        else:
            continue
        _set(owner, attr, PartReference(parts[-1]["kind"], key))
    sio.dump(tree, folder / "model.skops")
    files = ["model.skops", *(p["file"] for p in parts)]
    form = linear_form(model)
    linear = None if form is None else form.save(folder)
    files += [] if linear is None else [linear["file"]]
    manifest = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "estimator": type(model).__name__,
        "parts": parts,
        "sha256": {name: file_sha256(folder / name) for name in files},
        **({} if linear is None else {"linear": linear}),
    }
    (folder / "model.json").write_text(json.dumps(manifest, indent=2))


def load_model(folder: str | Path, heads: Iterable[str] | None = None) -> Any:
    """Load a model saved by :func:`save_model`, refusing foreign, tampered or untrusted files.

    ``heads`` are the heads the model holds (a run's ``config.heads``): only their types are
    trusted and only their modules imported (``None``: every head's). torch and LightGBM are
    imported only when the model has a part of theirs.
    """
    sio = skops_io()
    folder = Path(folder)
    manifest = _verified_manifest(folder)
    data = _current_module_names((folder / "model.skops").read_bytes())
    listed = set(sio.get_untrusted_types(data=data))
    trusted = sorted(set(trusted_types(heads)) | set(sklearn_estimator_types(listed)))
    untrusted = sorted(listed - set(trusted))
    if untrusted:
        raise ClapmosError(
            f"{folder / 'model.skops'} holds types clapmos does not trust: {', '.join(untrusted)}. "
            "Refusing to load it (it could run code)."
        )
    tree = sio.loads(data, trusted=trusted)
    files = {p["key"]: folder / p["file"] for p in manifest["parts"]}
    for owner, attr, value in list(_walk(tree)):
        if not isinstance(value, PartReference):
            continue
        if value.kind == "torch":
            from safetensors.torch import load_file

            module = owner._new_module()
            module.load_state_dict(load_file(files[value.key]))
            module.eval()
            restored: Any = module
        else:
            import lightgbm

            restored = lightgbm.Booster(model_str=files[value.key].read_text())
        _set(owner, attr, restored)
    return tree


def load_linear(folder: str | Path) -> LinearForm | None:
    """The arrays of a linear model saved by :func:`save_model`, every file's sha256 checked first; ``None`` when it
    saved none (then nothing is hashed here: :func:`load_model` checks the files when it reads them).

    Imports neither scikit-learn nor skops: what a cached re-score with a ``ridge`` run loads.
    """
    from clapmos.heads.runs.linear_form import LinearForm

    folder = Path(folder)
    if "linear" not in _read_manifest(folder):
        return None
    manifest = _verified_manifest(folder)
    try:
        return LinearForm.load(folder, manifest["linear"])
    except (KeyError, TypeError, ValueError, OSError) as error:
        raise ClapmosError(f"{folder / 'model.json'}: its linear form cannot be read ({error}); the model folder is damaged. Fit it again.") from None


def _verified_manifest(folder: Path) -> dict[str, Any]:
    """``model.json``, once every file it lists is there with the sha256 it recorded."""
    manifest = _read_manifest(folder)
    for name, digest in manifest["sha256"].items():
        if not (folder / name).is_file():
            raise ClapmosError(f"{folder / name}: missing; the saved model is incomplete. Fit it again.")
        if file_sha256(folder / name) != digest:
            raise ClapmosError(
                f"{folder / name}: its contents changed since the model was saved (sha256 mismatch). "
                "Refusing to load a tampered model; fit it again."
            )
    return manifest


def _current_module_names(data: bytes) -> bytes:
    """A skops file's bytes with the module and class names of :data:`LEGACY_MODULES` and :data:`LEGACY_CLASSES`
    replaced by today's (unchanged if none)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
        renamed = _rename_modules(schema)
        if renamed == schema:
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as copy:
            for info in archive.infolist():
                payload = json.dumps(renamed).encode() if info.filename == "schema.json" else archive.read(info)
                copy.writestr(info, payload)
    return out.getvalue()


def _rename_modules(node: Any) -> Any:
    """A skops schema with the modules of :data:`LEGACY_MODULES` and the classes of :data:`LEGACY_CLASSES` renamed."""
    if isinstance(node, dict):
        renamed = {k: LEGACY_MODULES.get(v, v) if k == "__module__" and isinstance(v, str) else _rename_modules(v) for k, v in node.items()}
        moved = LEGACY_CLASSES.get((renamed.get("__module__"), renamed.get("__class__")))
        return {**renamed, "__module__": moved} if moved else renamed
    if isinstance(node, list):
        return [_rename_modules(v) for v in node]
    return node


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "model.json"
    if not path.is_file():
        raise ClapmosError(f"{folder} holds no clapmos model (no model.json). Pass the folder `clapmos fit --out` wrote.")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ClapmosError(f"{path}: not valid JSON ({error}); the model folder is damaged. Fit it again.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise ClapmosError(f"{path} is not a clapmos model file (format {manifest.get('format') if isinstance(manifest, dict) else '?'!r}).")
    if manifest.get("version") != MODEL_VERSION:
        raise ClapmosError(f"{path}: model format version {manifest.get('version')} is not supported (expected {MODEL_VERSION}).")
    return manifest


def _walk(obj: Any, seen: set[int] | None = None) -> Iterator[tuple[Any, Any, Any]]:
    """Yield ``(container, key, value)`` for every value inside estimators, lists, tuples and dicts."""
    from sklearn.base import BaseEstimator

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, (list, tuple)):
        items = list(enumerate(obj))
    elif isinstance(obj, BaseEstimator):
        items = list(vars(obj).items())
    else:
        return
    for key, value in items:
        yield obj, key, value
        yield from _walk(value, seen)


def _set(container: Any, key: Any, value: Any) -> None:
    if isinstance(container, (dict, list)):
        container[key] = value
    elif isinstance(container, tuple):
        raise TypeError(f"cannot save a {type(value).__name__} held directly in a tuple; keep it in an estimator attribute")
    else:
        setattr(container, key, value)
