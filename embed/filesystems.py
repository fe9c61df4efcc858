"""Stores and runs on object storage (``s3://``, ``gs://``, ``abfs://``...): what clapmos does there, through fsspec.

Zarr reads and writes object storage itself (a URL is a zarr store); what the local file
system gives clapmos for free must be provided otherwise, or refused:

* **Ownership.** Locally, clapmos writes only into folders it made, recognised by what they hold.
  On object storage a prefix is clapmos's when it holds a clapmos store (``zarr.json`` with
  ``clapmos_store_version``) or a run (``config.json`` + ``provenance.json``), or an *ownership
  record* ``.clapmos-writing.json`` that clapmos puts there before its first object. Any other
  non-empty prefix is refused, as a foreign folder is.
* **Atomic swaps** (``--overwrite``, ``--rebuild``, replacing a run) rename folders: object
  storage has no rename, only copies, so a swap could be seen half done. They are refused with
  a message; write to a new URL instead.
* **Completeness without renames.** A new store or run is written under its final prefix after
  the ownership record, which is deleted last: a prefix that still has one was interrupted, and
  the next run that writes there (clapmos's, by the record) starts it again. Each zarr chunk is one
  object, written whole, so the ``done`` mask written last per block makes embedding resumable as
  on a local disk: kill it, rerun, identical arrays.
* **No locks.** Two commands writing the same store at once are not prevented (nor are they
  locally); on object storage keep to one writer per store.

Credentials and endpoints come from the environment, as fsspec's backends read them
(``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``...), so Dask workers see the same ones.

>>> is_url("s3://bucket/store.zarr"), is_url("store.zarr"), is_url("file:///tmp/x")
(True, False, False)
>>> location(Path("s3://bucket/store.zarr"))  # a URL given to an option typed Path keeps its //
's3://bucket/store.zarr'
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from clapmos.embed.errors import ClapmosError

WRITING = ".clapmos-writing.json"  # the ownership record of a prefix clapmos is writing
_URL = re.compile(r"^([a-z][a-z0-9+.-]*):/{1,2}(?=[^/])", re.I)
RUN_MARKERS = ("config.json", "provenance.json")


def is_url(path: str | Path | None) -> bool:
    """Whether ``path`` is a URL of a remote file system (not a local path, not ``file://``)."""
    match = _URL.match(str(path)) if path is not None else None
    return bool(match) and match.group(1).lower() not in ("file", "local")


def location(value: str | Path) -> str | Path:
    """A command-line value as given: a URL as a string (``Path`` folds ``s3://`` into ``s3:/``), else a ``Path``."""
    text = str(value)
    if is_url(text):
        return _URL.sub(lambda m: f"{m.group(1)}://", text, count=1)
    return Path(value)


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec file system of ``url`` and the path within it."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as error:
        raise ClapmosError(f"{url}: no file system for this URL here ({error}). For s3:// install s3fs, for gs:// gcsfs.") from None


def join(url: str, *parts: str) -> str:
    return "/".join([url.rstrip("/"), *parts])


def _objects(fs: Any, root: str) -> list[str]:
    """Every object under ``root`` (relative names), none when it does not exist."""
    fs.invalidate_cache()  # another process (a Dask worker, an earlier run) may have written since
    try:
        return [p[len(root.rstrip("/")) + 1 :] for p in fs.find(root)]
    except FileNotFoundError:
        return []


def _is_store(fs: Any, root: str) -> bool:
    try:
        return "clapmos_store_version" in json.loads(fs.cat_file(f"{root}/zarr.json")).get("attributes", {})
    except (OSError, ValueError, AttributeError):
        return False


def _is_run(names: list[str]) -> bool:
    return all(marker in names for marker in RUN_MARKERS)


def refuse_swap(url: str, what: str) -> None:
    """Refuse an operation that would swap folders (``--overwrite``, ``--rebuild``, replacing a run) on object storage."""
    raise ClapmosError(
        f"{url}: {what} replaces a folder whole by renaming it, and object storage cannot rename atomically (a reader "
        "could see it half done). Write to a new URL instead, or do it on a local disk and copy the result."
    )


# --------------------------------------------------------------------------- stores
def store_state(url: str, option: str = "--out") -> str:
    """``new`` (nothing there), ``store`` (a clapmos store), or ``interrupted`` (clapmos's, unfinished); else an error."""
    fs, root = filesystem(url)
    names = _objects(fs, root)
    if not names:
        return "new"
    if WRITING in names:
        return "interrupted"
    if _is_store(fs, root):
        return "store"
    raise ClapmosError(
        f"{option} {url} holds objects that are not a clapmos store; clapmos never writes into or replaces what it did "
        f"not create. Choose a new URL such as {join(url, 'store.zarr')}."
    )


def begin_writing(url: str) -> None:
    """Put the ownership record under ``url`` (deleting first what an interrupted write of clapmos's left there)."""
    fs, root = filesystem(url)
    names = _objects(fs, root)
    if names and WRITING not in names:
        raise ClapmosError(f"{url} is not empty and holds no clapmos record; refusing to write there.")
    if names:
        for name in names:
            if name != WRITING:
                fs.rm_file(f"{root}/{name}")
    fs.pipe_file(f"{root}/{WRITING}", json.dumps({"writer": "clapmos"}).encode())


def end_writing(url: str) -> None:
    """Delete the ownership record: what is under ``url`` is complete."""
    fs, root = filesystem(url)
    fs.rm_file(f"{root}/{WRITING}")


def open_group(url: str, mode: str = "r", option: str | None = None) -> Any:
    """The zarr group of the store at ``url``, refused when there is none (or an interrupted one)."""
    import zarr

    fs, root = filesystem(url)
    names = _objects(fs, root)
    flag = f"{option} " if option else ""
    if not names:
        raise ClapmosError(f"{flag}{url}: nothing there. Pass a clapmos store, or create one with `clapmos embed ... --out {url}`.")
    if WRITING in names:
        raise ClapmosError(f"{flag}{url}: a store whose creation was interrupted; run the embed command that made it again.")
    try:
        return zarr.open_group(url, mode=mode)
    except Exception as error:  # zarr raises several types for "not a group"
        raise ClapmosError(f"{flag}{url} is not a Zarr store ({error}).") from None


# --------------------------------------------------------------------------- runs
def download_run(url: str) -> Path:
    """A local copy of the run at ``url`` (in a temporary folder), to be loaded and checked like any run folder."""
    fs, root = filesystem(url)
    names = _objects(fs, root)
    if WRITING in names or not _is_run(names):
        state = "an interrupted upload" if WRITING in names else "not a clapmos run (no config.json and provenance.json)"
        raise ClapmosError(f"{url}: {state}. Pass the URL `clapmos fit --out` wrote.")
    local = Path(tempfile.mkdtemp(prefix="clapmos-run-")) / "run"
    for name in names:
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(f"{root}/{name}", str(local / name))
    return local


def check_run_url(url: str) -> None:
    """Refuse, before any work, a ``--out`` URL holding anything but nothing or an interrupted run upload of clapmos's."""
    fs, root = filesystem(url)
    names = _objects(fs, root)
    if not names or WRITING in names:
        return
    if _is_run(names):
        refuse_swap(url, "replacing the run there")
    raise ClapmosError(f"--out {url} holds objects that are not a clapmos run; clapmos never writes there. Choose a new URL.")


def upload_run(folder: Path, url: str) -> None:
    """Upload the run ``folder`` to ``url``: the ownership record first, the run's markers and then the record's deletion last."""
    check_run_url(url)
    begin_writing(url)
    fs, root = filesystem(url)
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: (p.name in RUN_MARKERS, str(p)))
    for path in files:
        fs.put_file(str(path), f"{root}/{path.relative_to(folder).as_posix()}")
    end_writing(url)


# --------------------------------------------------------------------------- score caches
def open_cache(url: str, marker: str, content: dict[str, Any]) -> None:
    """Check (or create) the score cache at ``url``: its ``marker`` object must hold ``content``; a foreign prefix is refused."""
    fs, root = filesystem(url)
    names = _objects(fs, root)
    if marker in names:
        try:
            found = json.loads(fs.cat_file(f"{root}/{marker}"))
        except (OSError, ValueError) as error:
            raise ClapmosError(f"{join(url, marker)} is damaged ({error}); point --cache at another URL.") from None
        if found != content:
            raise ClapmosError(f"{url} is a cache of another format or clapmos version ({found}); point --cache at another URL.")
        return
    if names:
        raise ClapmosError(f"{url} holds objects and is not a clapmos embedding cache (no {marker}); clapmos never writes there. "
                           "Point --cache at a new URL.")
    fs.pipe_file(f"{root}/{marker}", (json.dumps(content) + "\n").encode())


def complete_shards(url: str) -> list[str]:
    """The URLs of the shard stores under ``url/shards`` whose writing is finished (no ownership record), by name."""
    fs, root = filesystem(url)
    names = _objects(fs, f"{root}/shards")
    shards = {name.split("/", 1)[0] for name in names if name.split("/", 1)[0].endswith(".zarr")}
    writing = {name.split("/", 1)[0] for name in names if name.endswith(f"/{WRITING}")}
    return [join(url, "shards", name) for name in sorted(shards - writing)]
