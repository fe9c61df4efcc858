"""Shared plumbing of the benchmark scripts: peak memory in a child process, and BENCHMARKS.md sections.

Each benchmark script owns one section of ``BENCHMARKS.md`` between
``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` and rewrites only that section, so the
scripts can be run separately and in any order.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
HEADER = """# Benchmarks

Figures measured on the project machine (2 CPU cores, no GPU) with `make benchmarks`
or by running one script in `benchmarks/`. The machines are shared and noisy: compare the
**ratios** measured within one run, not absolute times across runs.
"""


def machine_line() -> str:
    """One line describing where the figures were measured."""
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section ``name`` of BENCHMARKS.md with ``markdown``."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    block = f"<!-- begin:{name} -->\n{markdown.strip()}\n<!-- end:{name} -->"
    pattern = re.compile(rf"<!-- begin:{re.escape(name)} -->.*?<!-- end:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS_MD.write_text(text)


def run_child(code: str, timeout: float = 3600) -> dict:
    """Run ``code`` in a fresh interpreter; it must print one JSON object as its last line.

    The child's peak resident memory (MB) is added under ``peak_mb``, so every measurement starts
    from an empty process. It is the child's own high-water mark (``VmHWM`` of ``/proc/self/status``,
    reset by ``exec``), not ``getrusage``'s ``ru_maxrss``, which Linux carries over from the forked
    benchmark process (a child that only imported numpy reported the parent's 480 MB).
    """
    wrapper = (
        "import json, resource, sys\n"
        + code
        + "\n_r = json.loads(_result) if isinstance(_result, str) else _result\n"
        "try:\n"
        "    _r['peak_mb'] = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024\n"
        "except (OSError, StopIteration):  # not Linux: the rusage figure (an upper bound there too)\n"
        "    _r['peak_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps(_r))\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
