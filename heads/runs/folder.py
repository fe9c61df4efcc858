"""Run folders are replaced whole: written beside the destination, swapped in when complete.

``fit --out runs/x`` into an existing run must not leave the old run's plots, eval files or
weights beside the new model, and must not destroy anything that is not a run. So the new
run is written to ``runs/.x.partial``; when it is complete, the old run (checked to be a
clapmos run: it has ``config.json`` and ``provenance.json``) is renamed aside, the new one
renamed into place, and the old one deleted. A path that is a file, or a folder holding
anything but a run, is refused before any work.

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

RUN_MARKERS = ("config.json", "provenance.json")  # what every run folder holds


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``fit --out`` (or :func:`clapmos.heads.runs.run.save_run`)."""
    return all((Path(path) / name).is_file() for name in RUN_MARKERS)


def check_run_destination(path: str | Path) -> None:
    """Refuse, before any work, a ``--out`` that is a file or a folder holding something other than a run."""
    path = Path(path)
    refuse_link(path)
    restore_swapped_out(path)
    if path.exists() and not path.is_dir():
        raise ClapmosError(f"--out {path} is a file; a run is a folder. Choose a new name, e.g. {path.with_suffix('')}-run.")
    if path.is_dir() and not is_run_folder(path) and any(path.iterdir()):
        raise ClapmosError(
            f"--out {path} is a folder that is not a clapmos run; clapmos only replaces runs it wrote. "
            f"Choose a new name, e.g. {path / 'run'}."
        )


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
    swap_in(staging, path, is_ours=is_run_folder)
