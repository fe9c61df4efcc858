"""Files and folders: require a user's file, hash a file, swap a finished folder into place.

These are shared by every stage (checkpoints and corpus lists in ``embed``, saved models
and run folders in ``heads``), so each exists once.

Folders that clapmos writes (a store rebuilt from new items, a run folder) are built
beside their destination under a hidden name and moved into place only when complete,
by :func:`swap_in`: the old folder is renamed aside first and deleted last, so an
interrupted run leaves either the old folder or the new one, never a mixture.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> new = staging_folder(folder / "run")
>>> _ = (new / "config.json").write_text("{}")
>>> swap_in(new, folder / "run", check=lambda old: None)
>>> sorted(p.name for p in folder.iterdir()), len(file_sha256(folder / "run" / "config.json"))
(['run'], 64)
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

from clapmos.embed.errors import ClapmosError

STAGING_MARK = ".clapmos-staging"  # a file in every folder built by staging_folder


def require_file(path: str | Path | None, what: str, advice: str = "", flag: str | None = None) -> Path:
    """``path`` as a :class:`Path` if it names a file; else an error saying what was expected.

    ``flag`` names the option the path came from (``--checkpoint``); ``advice`` says
    where to get the file or what to pass instead.

    >>> require_file("/no/such.pt", "the model's .pt file", "Download it first.", flag="--checkpoint")
    Traceback (most recent call last):
    clapmos.embed.errors.ClapmosError: --checkpoint /no/such.pt: does not exist. Pass the model's .pt file. Download it first.
    """
    tail = f" {advice}" if advice else ""
    if path is None:
        raise ClapmosError(f"{flag or 'a file'} is required: {what}.{tail}")
    path = Path(path).expanduser()
    if path.is_file():
        return path
    state = "is a folder, not a file" if path.is_dir() else "does not exist"
    if flag:
        raise ClapmosError(f"{flag} {path}: {state}. Pass {what}.{tail}")
    raise ClapmosError(f"expected {what} at {path}, but it {state}.{tail}")


def require_folder(path: str | Path, what: str, advice: str = "", flag: str | None = None) -> Path:
    """``path`` as a :class:`Path` if it names a folder; else an error saying what was expected (as :func:`require_file`).

    >>> require_folder("/no/such.zarr", "a clapmos store", flag="--store")
    Traceback (most recent call last):
    clapmos.embed.errors.ClapmosError: --store /no/such.zarr: no such folder. Pass a clapmos store.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return path
    state = "is a file, not a folder" if path.exists() else "no such folder"
    tail = f" {advice}" if advice else ""
    if flag:
        raise ClapmosError(f"{flag} {path}: {state}. Pass {what}.{tail}")
    raise ClapmosError(f"expected {what} at {path}, but there is {'a file' if path.exists() else 'nothing'}.{tail}")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in a stream (checkpoints are large)."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def staging_folder(destination: str | Path, kind: str = "partial") -> Path:
    """A new, empty, marked folder beside ``destination`` (``.<name>.<kind>``) to build into.

    A staging folder left by an interrupted run is removed first; anything else that has
    the name (without the mark) is refused rather than deleted.
    """
    path = staging_path(destination, kind)
    remove_staging(path)
    path.mkdir(parents=True)
    (path / STAGING_MARK).write_text("built by clapmos; moved into place when complete\n")
    return path


def staging_path(destination: str | Path, kind: str = "partial") -> Path:
    """Where :func:`staging_folder` builds the new version of ``destination``."""
    destination = Path(destination)
    return destination.with_name(f".{destination.name}.{kind}")


def remove_staging(path: Path) -> None:
    """Delete a staging folder clapmos made (it carries :data:`STAGING_MARK`); refuse anything else."""
    if not path.exists():
        return
    if not (path.is_dir() and (path / STAGING_MARK).is_file()):
        raise ClapmosError(f"{path} is in the way, and clapmos did not make it. Move it elsewhere and run again.")
    shutil.rmtree(path)


def swap_in(new: Path, destination: str | Path, check: Callable[[Path], None]) -> None:
    """Move the finished folder ``new`` to ``destination``, replacing what is there.

    ``check(destination)`` raises when what is there may not be replaced (callers pass
    :func:`clapmos.embed.ownership.check_replaceable`: a folder clapmos recorded, unchanged).
    The old folder is renamed aside first and deleted only after ``new`` is in place
    (:func:`restore_swapped_out` puts it back if the process stops between the two
    renames). A symbolic link is never replaced.
    """
    destination = Path(destination)
    refuse_link(destination)
    restore_swapped_out(destination)
    if destination.exists() and not destination.is_dir():
        raise ClapmosError(f"{destination} exists and is a file; it is left as it is. The result is in {new}.")
    if destination.exists():
        try:
            check(destination)
        except ClapmosError as error:
            raise ClapmosError(f"{error}\nThe result is in {new}.") from None
    (new / STAGING_MARK).unlink(missing_ok=True)
    if not destination.exists():
        new.rename(destination)
        return
    old = staging_path(destination, "old")
    remove_staging(old)
    destination.rename(old)
    (old / STAGING_MARK).write_text("the replaced version; deleted once the new one is in place\n")
    new.rename(destination)
    shutil.rmtree(old)


def restore_swapped_out(destination: str | Path) -> None:
    """Undo a :func:`swap_in` stopped between its two renames: the old version, renamed aside, goes back to ``destination``."""
    destination = Path(destination)
    old = staging_path(destination, "old")
    if not destination.exists() and not destination.is_symlink() and (old / STAGING_MARK).is_file():
        (old / STAGING_MARK).unlink()
        old.rename(destination)


def refuse_link(path: str | Path, option: str = "--out") -> None:
    """Refuse a destination that is a symbolic link: clapmos replaces folders it wrote, never a user's link."""
    path = Path(path)
    if path.is_symlink():
        raise ClapmosError(
            f"{option} {path} is a symbolic link (to {path.readlink()}); clapmos does not replace links. "
            "Pass the folder it points to, or a new name."
        )
