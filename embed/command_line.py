"""What every `clapmos` command shares: the consoles, one message and exit status 2 for a user's error, warnings as
one line each, and the checks of options that name seconds, devices, stores, splits, embedders and output files.

The commands themselves live beside what they run (``embed/commands.py``, ``heads/runs/commands.py``,
``evaluation/commands/``); ``cli.py`` gathers them into one app.
"""

from __future__ import annotations

import contextlib
import functools
import math
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from clapmos.embed.devices import is_device_name
from clapmos.embed.errors import ClapmosError
from clapmos.embed.filesystems import is_url, location

# soft_wrap: lines are never broken by rich (a terminal wraps them; a file gets them whole)
# emoji=False: a message naming `file.py:X:` stays as written (rich would turn `:X:` into an emoji)
err = Console(stderr=True, soft_wrap=True, emoji=False)
out = Console(soft_wrap=True, emoji=False)


def user_errors(command):
    """Report :class:`ClapmosError` as one readable message and exit status 2 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ClapmosError as error:
            err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper



@contextlib.contextmanager
def reported_warnings():
    """Show warnings raised inside as one yellow line each (no source lines, no traceback)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught):
                err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)



def print_table(title: str, text: str) -> None:
    out.print(f"\n[bold]{escape(title)}[/]", highlight=False)
    out.print(text, markup=False, highlight=False)



def check_seconds(value: Optional[float]) -> Optional[float]:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise typer.BadParameter(f"{value}: must be a finite number of seconds, more than 0 seconds.")
    return value



def check_device(value: Optional[str]) -> Optional[str]:
    if value is not None and not is_device_name(value):
        raise typer.BadParameter(f"{value!r}: choose auto, cpu, cuda or cuda:N.")
    return value



def split_list(value: Optional[str]) -> Optional[list[str]]:
    """Comma-separated names; ``None`` when not given, ``[]`` when given without one (``","``)."""
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]



def score_ranges(values: Optional[list[str]]) -> dict[str, tuple[float, float]]:
    """``--score-range [COLUMN=]LOW,HIGH`` (repeatable) as ``{column or "*": (low, high)}``."""
    ranges = {}
    for value in values or []:
        column, eq, bounds = value.rpartition("=")
        try:
            low, high = (float(b) for b in bounds.split(","))
        except ValueError:
            low, high = 1.0, 0.0
        if not low < high:
            raise typer.BadParameter(f"{value!r}: expected LOW,HIGH or COLUMN=LOW,HIGH with LOW < HIGH, e.g. mos=1,5.", param_hint="'--score-range'")
        ranges[column.strip() if eq else "*"] = (low, high)
    return ranges



def open_store(path: Path, option: str = "--store"):
    """The store at ``path`` (a folder or a URL); errors name the option it came from."""
    from clapmos.embed.files import require_folder

    path = location(path)
    if not is_url(path):
        require_folder(path, "a clapmos store", f"Create one with `clapmos embed ... --out {path}`.", flag=option)  # before zarr is imported
    from clapmos.embed.store import FeatureStore

    try:
        return FeatureStore.open(path)
    except ClapmosError as error:
        raise ClapmosError(f"{option} {error}") from None



def known_splits(store, splits: Optional[list[str]], option: str = "--split") -> Optional[list[str]]:
    if splits is not None and not splits:
        raise ClapmosError(f"{option}: name at least one split; {store.path} has {', '.join(store.splits)}.")
    unknown = [s for s in splits or [] if s not in store.splits]
    if unknown:
        raise ClapmosError(f"{option} {','.join(splits)}: {store.path} has no split {', '.join(unknown)}; its splits are {', '.join(store.splits)}.")
    return splits



def known_embedder(store, embedder: str) -> str:
    """``--embedder`` (one name, or several comma-separated), each with features in ``store``."""
    missing = [name for name in split_list(embedder) or [embedder] if name not in store.embedders]
    if missing:
        raise ClapmosError(
            f"--embedder {embedder}: {store.path} has no features of {', '.join(missing)} (it has: {', '.join(store.embedders) or 'none'}). "
            f"Run `clapmos embed --embedder {missing[0]} --out {store.path} ...` first."
        )
    return embedder



def check_out_files(paths: list[Path], option: str = "--out") -> None:
    """Refuse, before any work, output files that are folders, lie inside a clapmos folder, or exist and are not clapmos's unchanged outputs."""
    from clapmos.embed.ownership import check_replaceable, refuse_inside

    if paths[0].is_dir():
        raise ClapmosError(f"{option} {paths[0]} is a folder; give the name of the file to write.")
    refuse_inside(paths[0], option)
    check_replaceable(paths, option)



def submission_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise typer.BadParameter(f"{value!r}: choose one of {', '.join(allowed)}.", param_hint="'--format'")
    return value
