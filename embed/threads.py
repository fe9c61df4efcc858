"""How many CPU threads the compute libraries may use: torch, and the BLAS and OpenMP pools
of numpy, scikit-learn and LightGBM (through ``threadpoolctl``).

The default (``--threads``) is every CPU core this process may use: its CPU affinity
(``os.sched_getaffinity``) capped by a cgroup CPU quota (``/sys/fs/cgroup/cpu.max``, as
containers and CI runners set it). A shared machine sets the environment variable
``CLAPMOS_THREADS`` (the test suite, CI and the benchmarks set 1: on a 2-core machine shared
with other jobs, two-thread fits stalled, ``BENCHMARKS.md``, "Threads").

>>> usable_cores() >= 1
True
>>> with limit_threads(1):
...     pass
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path

THREADS_VARIABLE = "CLAPMOS_THREADS"
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The CPU cores this process may use: its affinity, capped by a cgroup v2 quota (rounded up).

    >>> import tempfile
    >>> quota = Path(tempfile.mkdtemp()) / "cpu.max"
    >>> _ = quota.write_text("150000 100000\\n")
    >>> usable_cores(quota) <= 2
    True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    try:
        limit, period = cpu_max.read_text().split()[:2]
        if limit != "max":
            cores = min(cores, max(1, math.ceil(int(limit) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def default_threads() -> int:
    """``CLAPMOS_THREADS`` when set (a whole number >= 1), else :func:`usable_cores`."""
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if value:
        if value.isdigit() and int(value) >= 1:
            return int(value)
        import warnings

        warnings.warn(f"{THREADS_VARIABLE}={value!r} is not a whole number >= 1: using every usable core", UserWarning, stacklevel=2)
    return usable_cores()


DEFAULT_THREADS = default_threads()


@contextlib.contextmanager
def limit_threads(threads: int | None) -> Iterator[None]:
    """Run the block with at most ``threads`` threads in torch (if it is imported) and BLAS/OpenMP; ``None``: no limit.

    Import torch before entering (loading a model does) for the limit to reach it.
    """
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    previous = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=threads):
        if torch is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(previous)
