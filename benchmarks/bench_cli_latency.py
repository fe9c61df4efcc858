"""How long the `clapmos` command takes to answer `--help` and to report a bad option (target: under 1 s).

Each command runs as a fresh process of the installed console script (`.venv/bin/clapmos`,
falling back to `python cli.py`), once untimed to warm the file cache, then ``RUNS`` times;
the median wall time is reported. An error must come before any heavy import (torch,
scikit-learn, skops, scipy.stats): the commands check their quick options and names first.

    python benchmarks/bench_cli_latency.py      # writes the "cli_latency" section of BENCHMARKS.md
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, machine_line, write_section  # noqa: E402

RUNS = 7
COMMANDS = {
    "clapmos --help": ["--help"],
    "clapmos fit --store missing.zarr --out run (an error)": ["fit", "--store", "missing.zarr", "--out", "run"],
    "clapmos fit ... --cv 0 (an error)": ["fit", "--store", "missing.zarr", "--out", "run", "--cv", "0"],
    "clapmos fit ... --head nope (an unknown head)": ["fit", "--store", "missing.zarr", "--out", "run", "--head", "nope"],
    "clapmos fit ... --recipe nope (an unknown recipe)": ["fit", "--store", "missing.zarr", "--out", "run", "--recipe", "nope"],
    "clapmos embed ... --embedder nope (an unknown embedder)": ["embed", "--corpus", "manifest", "--root", "m.csv", "--out", "s.zarr", "--embedder", "nope"],
    "clapmos evaluate --pred missing.txt --truth t.txt (an error)": ["evaluate", "--pred", "missing.txt", "--truth", "t.txt"],
}


def launcher() -> list[str]:
    script = Path(sys.executable).with_name("clapmos")
    return [str(script)] if script.is_file() else [sys.executable, str(ROOT / "cli.py")]


def time_command(args: list[str], folder: str) -> tuple[float, int]:
    command = launcher() + args
    subprocess.run(command, cwd=folder, capture_output=True)
    times, code = [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        code = subprocess.run(command, cwd=folder, capture_output=True).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), code


def main() -> None:
    import os

    load = os.getloadavg()[0]
    folder = tempfile.mkdtemp(prefix="clapmos-latency-")
    try:
        rows = [(name, *time_command(args, folder)) for name, args in COMMANDS.items()]
    finally:
        shutil.rmtree(folder)
    table = "\n".join(f"| `{name}` | {seconds:.2f} | {code} |" for name, seconds, code in rows)
    print(table)
    write_section(
        "cli_latency",
        f"""
## `clapmos` answers in well under a second (`benchmarks/bench_cli_latency.py`)

Fresh process of the console script per run, file cache warm, median of {RUNS} runs (1-minute load
average {load:.1f} at the start; the machine may be shared). Errors are reported before torch,
scikit-learn, skops or scipy.stats are imported (target: under 1 s; an unknown head, recipe or embedder name: 0.5 s).

| command | seconds (median) | exit status |
|---|---:|---:|
{table}

Measured on {machine_line()}.
""",
    )


if __name__ == "__main__":
    main()
