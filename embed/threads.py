"""How many CPU threads the compute libraries may use: torch, and the BLAS and OpenMP pools
of numpy, scikit-learn and LightGBM (through ``threadpoolctl``).

One thread is the default (``--threads``): measured on a 2-core machine shared with other
jobs, every two-thread fit (torch or LightGBM) stalled past four minutes while one-thread fits
finished in one to three (``BENCHMARKS.md``, "Threads"). Give more on a machine of your own.

>>> with limit_threads(1):
...     pass
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

DEFAULT_THREADS = 1


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
