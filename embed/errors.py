"""The one exception type that reaches users as a message, never as a traceback.

Every problem caused by the user's input (a missing file, a malformed line, a
checkpoint of the wrong model) is raised as :class:`ClapmosError` with a message
that names the file, the line or the id and says what to do. ``cli.py`` prints the
message and exits with status 2; library users catch it like any exception.

>>> try:
...     raise ClapmosError("sets/train_mos_list.txt line 3: expected 3 fields, got 2")
... except ClapmosError as err:
...     print(err)
sets/train_mos_list.txt line 3: expected 3 fields, got 2
"""

from __future__ import annotations

from collections.abc import Iterable


class ClapmosError(Exception):
    """A problem with the user's input, reported as a readable message."""


def listing(lines: Iterable[object], limit: int = 20) -> str:
    """Format offending entries one per line, eliding past ``limit``.

    >>> print(listing(["a.wav", "b.wav", "c.wav"], limit=2))
      a.wav
      b.wav
      ... and 1 more
    """
    lines = [str(line) for line in lines]
    shown = [f"  {line}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"  ... and {len(lines) - limit} more")
    return "\n".join(shown)


class DivergedTrainingWarning(RuntimeWarning):
    """A model's training loss became non-finite (too high a learning rate): ``fit`` does not save such a run."""
