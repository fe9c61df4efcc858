"""Run folders are replaced whole: written beside the destination, swapped in when complete.

``fit --out runs/x`` into an existing run must not leave the old run's plots, eval files or
weights beside the new model, and must not destroy anything that is not a run. So the new
run is written to ``runs/.x.partial``; when it is complete, its files are recorded with their
sha256 (:mod:`clapmos.embed.ownership`), the old run (checked against its own record: every
file in it written by clapmos and unchanged) is renamed aside, the new one renamed into
place, and the old one deleted. A path that is a file, a folder holding anything else (a
file the user added to a run), or a path inside a store, run or report is refused before any work.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp()) / "run"
>>> with writing_run_folder(folder) as staging:
...     for name in RUN_MARKERS:
...         _ = (staging / name).write_text("{}")
>>> is_run_folder(folder)
True
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from clapmos.embed.errors import ClapmosError
from clapmos.embed.files import refuse_link, restore_swapped_out, staging_folder, swap_in
from clapmos.embed.ownership import check_replaceable, folder_kind, record_folder, refuse_inside

RUN_MARKERS = ("config.json", "provenance.json")  # what every run folder holds


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``fit --out`` (or :func:`clapmos.heads.runs.run.save_run`)."""
    return all((Path(path) / name).is_file() for name in RUN_MARKERS)


def check_run_destination(path: str | Path) -> None:
    """Refuse, before any work, a ``--out`` that is a file, a folder holding anything clapmos may not replace, or inside a clapmos folder."""
    path = Path(path)
    refuse_link(path)
    restore_swapped_out(path)
    refuse_inside(path)
    sibling = path.with_name(f"{path.with_suffix('').name}-run")
    if path.exists() and not path.is_dir():
        raise ClapmosError(f"--out {path} is a file; a run is a folder. Choose a new name, e.g. {sibling}.")
    kind = folder_kind(path)
    if kind not in (None, "run"):
        raise ClapmosError(f"--out {path} is a clapmos {kind}, not a run; it is left as it is. Choose a new name, e.g. {sibling}.")
    if kind is None and path.is_dir() and any(path.iterdir()):
        raise ClapmosError(
            f"--out {path} is a folder that is not a clapmos run; clapmos only replaces runs it wrote. Choose a new name, e.g. {sibling}."
        )
    check_replaceable([path])


@contextlib.contextmanager
def writing_run_folder(path: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder to write a run into; on success it replaces ``path`` whole.

    If the block fails, the staging folder is removed and ``path`` is left as it was.
    """
    path = Path(path)
    check_run_destination(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(path)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    record_folder(staging, "run")
    swap_in(staging, path, check=lambda old: check_replaceable([old]))
