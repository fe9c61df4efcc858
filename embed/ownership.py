"""What is ours: clapmos replaces or deletes a path only when a record says clapmos wrote it, unchanged since.

Every file and folder clapmos writes is recorded where it is written, in a small JSON
file named :data:`RECORD` holding each file's sha256:

* a file written into a user's folder (``score --out``, ``predict --out``, the tables of
  ``runs --out``) is listed in the record of that folder (``kind: files``); only the
  listed files are ours, the folder is not;
* a folder written whole (a run folder, an ``evaluate`` report) holds its own record
  (``kind: run``/``report``) listing every file in it;
* a store is recorded by its Zarr metadata (the root's ``clapmos_store_version``): it is
  ours while it holds only Zarr metadata and chunk files; a cache by ``clapmos_cache.json``.

A path may be replaced when it does not exist, is an empty folder, or is ours and
unchanged: every file in it is recorded and has its recorded sha256. Anything else (a file
the user edited, added or put there) is named in one refusal and never touched. Outputs
are never written inside a store, a run folder, a report or a cache (:func:`refuse_inside`).

The API takes paths, one at a time, so that other file systems can serve it later.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "scores.csv").write_text("path,mos\\n")
>>> foreign(folder / "scores.csv")
['...scores.csv']
>>> record_file(folder / "scores.csv"); foreign(folder / "scores.csv")
[]
>>> _ = (folder / "scores.csv").write_text("path,mos\\nmine.wav,5\\n")  # edited by the user: no longer ours
>>> check_replaceable([folder / "scores.csv"], "--out")
Traceback (most recent call last):
clapmos.embed.errors.ClapmosError: --out: clapmos did not write these, or they changed since it did; they are left as they are:
  ...scores.csv (changed since clapmos wrote it)
Choose another name (or move them away).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.files import STAGING_MARK, file_sha256

RECORD = ".clapmos-written.json"
RECORD_FORMAT = "clapmos-written"
STORE_FILES = ("zarr.json", STAGING_MARK)  # what a store folder holds besides its arrays' chunks (under <array>/c/)
CACHE_MARKER = "clapmos_cache.json"


# --------------------------------------------------------------------------- recording
def record_file(path: str | Path) -> None:
    """Record ``path``, a file clapmos has just written, in the record of its folder."""
    path = Path(path)
    record = read_record(path.parent) or {"kind": "files", "files": {}}
    record["files"][path.name] = file_sha256(path)
    _write_record(path.parent, record)


def record_folder(folder: str | Path, kind: str) -> None:
    """Record every file in ``folder`` (a run, a report clapmos has just written whole) as ours."""
    folder = Path(folder)
    files = {name: file_sha256(folder / name) for name in _files_in(folder) if name not in (RECORD, STAGING_MARK)}
    _write_record(folder, {"kind": kind, "files": files})


def read_record(folder: str | Path) -> dict | None:
    """The record of ``folder`` (``{"kind", "files": {name: sha256}}``), or ``None`` when it has none or it is damaged."""
    try:
        record = json.loads((Path(folder) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT or not isinstance(record.get("files"), dict):
        return None
    return record


def folder_kind(path: str | Path) -> str | None:
    """What clapmos folder ``path`` is: ``store``, ``cache``, ``run``, ``report`` (or another recorded kind), else ``None``."""
    path = Path(path)
    if not path.is_dir():
        return None
    try:
        if "clapmos_store_version" in json.loads((path / "zarr.json").read_text()).get("attributes", {}):
            return "store"
    except (OSError, ValueError, AttributeError):
        pass
    if (path / CACHE_MARKER).is_file():
        return "cache"
    record = read_record(path)
    if record is not None and record["kind"] != "files":
        return record["kind"]
    return None


# --------------------------------------------------------------------------- checking
def foreign(path: str | Path) -> list[str]:
    """What at ``path`` clapmos may not replace: each file not recorded as ours or changed since (with why); ``[]`` if none."""
    path = Path(path)
    if path.is_symlink():
        return [f"{path} (a symbolic link)"]
    if not path.exists():
        return []
    if not path.is_dir():
        recorded = (read_record(path.parent) or {"files": {}})["files"].get(path.name)
        if recorded is None:
            return [str(path)]
        return [] if recorded == file_sha256(path) else [f"{path} (changed since clapmos wrote it)"]
    kind = folder_kind(path)
    names = _files_in(path)
    if kind == "store":
        arrays: dict[str, bool] = {}
        return [str(path / name) for name in names if not _is_zarr_file(path, name, arrays)]
    if kind == "cache" or kind is None:
        return [str(path / name) for name in names] if kind is None else [f"{path} (a clapmos cache; clapmos never deletes one)"]
    recorded = read_record(path)["files"]
    found = []
    for name in names:
        if name in (RECORD, STAGING_MARK):
            continue
        if name not in recorded:
            found.append(str(path / name))
        elif recorded[name] != file_sha256(path / name):
            found.append(f"{path / name} (changed since clapmos wrote it)")
    return found


def check_replaceable(paths: Iterable[str | Path], option: str = "--out") -> None:
    """Refuse, naming every offending file, when any of ``paths`` holds something clapmos may not replace."""
    found = [line for path in paths for line in foreign(path)]
    if found:
        raise ClapmosError(
            f"{option}: clapmos did not write these, or they changed since it did; they are left as they are:\n{listing(found)}\n"
            "Choose another name (or move them away)."
        )


def verify_recorded(folder: str | Path, names: Iterable[str], what: str) -> None:
    """Refuse files of ``folder``'s record among ``names`` that changed since clapmos wrote them (a folder without a record passes)."""
    folder = Path(folder)
    record = read_record(folder)
    if record is None:
        return
    changed = [str(folder / n) for n in names if n in record["files"] and (not (folder / n).is_file() or file_sha256(folder / n) != record["files"][n])]
    if changed:
        raise ClapmosError(
            f"{folder}: these files changed since clapmos wrote them (sha256 mismatch), so {what} would not be the one fitted:\n"
            f"{listing(changed)}\nRestore them, or fit the run again."
        )


def refuse_inside(path: str | Path, option: str = "--out") -> None:
    """Refuse a ``path`` inside a folder clapmos owns whole (a store, a run, a report, a cache): replacing that folder later would delete it."""
    path = Path(path).absolute()
    for parent in path.parents:
        kind = folder_kind(parent)
        if kind is not None:
            raise ClapmosError(
                f"{option} {path} is inside the clapmos {kind} {parent}, which clapmos may replace whole later. "
                f"Choose a path outside it, e.g. {parent.parent / path.name}."
            )


# --------------------------------------------------------------------------- details
def _files_in(folder: Path) -> list[str]:
    """Every file and link under ``folder``, as paths relative to it (``/``-separated); empty folders are not listed."""
    found = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        links = [d for d in dirs if (Path(root) / d).is_symlink()]
        found += [(rel / name).as_posix() for name in [*files, *links]]
    return sorted(found)


def _is_zarr_file(store: Path, name: str, arrays: dict[str, bool]) -> bool:
    """Whether ``name`` (relative to ``store``) is Zarr metadata or a chunk of one of its arrays (``arrays``: folders seen)."""
    parts = name.split("/")
    if parts[-1] in STORE_FILES and len(parts) == 1 or parts[-1] == "zarr.json":
        return True
    for i, part in enumerate(parts[:-1]):
        if part == "c" and i > 0:
            folder = "/".join(parts[:i])
            if folder not in arrays:
                try:
                    arrays[folder] = json.loads((store / folder / "zarr.json").read_text()).get("node_type") == "array"
                except (OSError, ValueError, AttributeError):
                    arrays[folder] = False
            return arrays[folder]
    return False


def _write_record(folder: Path, record: dict) -> None:
    text = json.dumps({"format": RECORD_FORMAT, "version": 1, **record}, indent=1, sort_keys=True) + "\n"
    tmp = folder / f"{RECORD}.{os.getpid()}.partial"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / RECORD)
