"""What verifying a store's checksums costs ``fit``: a 600-clip store, sealed vs the same store without seals.

Setup: a demo corpus of ``CLIPS`` clips, its store (``spectral`` vectors), and a copy of the
store with its checksums removed (``features/<e>/check`` and the columns' ``checksums``
attributes: what a store written before checksums looks like, read without verification, with
a warning). Then, interleaved ``ROUNDS`` times, in one child process each: reading what ``fit``
reads (items, labels, ratings, every vector) and a whole 5-fold ``ridge`` ``fit_run``, on each
store, in CPU seconds of the child process. The numbers must be identical both ways. Writes the ``store_checks`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_line, run_child, write_section  # noqa: E402

CLIPS = 600
ROUNDS = 7

PREPARE = """
from pathlib import Path
from clapmos.embed.corpora import read_corpus
from clapmos.embed.corpora.demo import make_demo_corpus
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
folder = Path({folder!r})
make_demo_corpus(folder / "corpus", n_clips={clips}, seed=0)
store = FeatureStore.create(folder / "sealed.zarr", read_corpus("musiceval", folder / "corpus"))
embed_corpus(store, "spectral", progress=False)
_result = {{}}
"""

TIMED = """
import time, warnings
warnings.simplefilter("ignore")
import numpy as np
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.run import RunConfig, fit_run
path = {path!r}
started = time.process_time()
store = FeatureStore.open(path)
store.items(); store.labels(); store.ratings()
X, _ = store.stacked(["spectral"])
read = time.process_time() - started
started = time.process_time()
run = fit_run(FeatureStore.open(path), RunConfig(embedders=["spectral"], heads=["ridge"], cv=5))
fit = time.process_time() - started
_result = {{"read": read, "fit": fit, "digest": float(np.asarray(X, np.float64).sum()), "oof": run.oof.to_json()}}
"""


def unseal(folder: Path) -> None:
    """Remove every checksum of a store (as written before checksums)."""
    shutil.rmtree(folder / "features" / "spectral" / "check")
    for meta in folder.rglob("zarr.json"):
        node = json.loads(meta.read_text())
        if node.get("attributes", {}).pop("checksums", None) is not None:
            meta.write_text(json.dumps(node))


def main() -> None:
    load_before = os.getloadavg()[0]
    times: dict[str, dict[str, list[float]]] = {"sealed": {"read": [], "fit": []}, "unsealed": {"read": [], "fit": []}}
    results = {}
    with tempfile.TemporaryDirectory(prefix="clapmos-bench-") as tmp:
        folder = Path(tmp)
        run_child(PREPARE.format(folder=str(folder), clips=CLIPS))
        shutil.copytree(folder / "sealed.zarr", folder / "unsealed.zarr")
        unseal(folder / "unsealed.zarr")
        for _ in range(ROUNDS):
            for kind in ("sealed", "unsealed"):
                result = run_child(TIMED.format(path=str(folder / f"{kind}.zarr")))
                times[kind]["read"].append(result["read"])
                times[kind]["fit"].append(result["fit"])
                results[kind] = (result["digest"], result["oof"])
    load_after = os.getloadavg()[0]
    same = results["sealed"] == results["unsealed"]
    median = {kind: {phase: statistics.median(values) for phase, values in phases.items()} for kind, phases in times.items()}
    print(json.dumps({"times": times, "same": same}, indent=1))
    ratio = {phase: median["sealed"][phase] / median["unsealed"][phase] for phase in ("read", "fit")}
    write_section("store_checks", f"""
## Store checksums: what verifying them costs `fit` (`benchmarks/bench_store_checks.py`)

A demo store of {CLIPS} clips (`spectral` vectors, 128-d audio and text), sealed as `embed` writes it now, and the
same store with its checksums removed (as written before them: read unverified, with a warning). Each measurement
is a new process; {ROUNDS} rounds, interleaved; times are the process's CPU seconds (`time.process_time`, less
disturbed than wall time by the other jobs of this shared machine). *Read*: items, labels, ratings and every vector, as `fit` reads
them. *Fit*: a whole 5-fold `ridge` `fit_run` (its reads included). Same numbers both ways: **{'yes' if same else 'NO'}**.

| store | read (CPU s, median) | fit (CPU s, median) |
|---|---:|---:|
| without checksums | {median['unsealed']['read']:.3f} | {median['unsealed']['fit']:.2f} |
| sealed, verified on read | {median['sealed']['read']:.3f} | {median['sealed']['fit']:.2f} |
| ratio sealed / without | {ratio['read']:.2f} | **{ratio['fit']:.2f}** |

Verifying adds {median['sealed']['read'] - median['unsealed']['read']:.3f} CPU s to reading the {CLIPS} clips' store (a digest
per row and column chunk); on a whole fit the difference is within what this shared machine's load moves a fit.
All times: {json.dumps({k: {p: [round(s, 3) for s in v] for p, v in d.items()} for k, d in times.items()})}.
Load average of the machine (2 cores; other jobs share it): {load_before:.1f} before the run, {load_after:.1f} after.
Measured on {machine_line()}.
""")


if __name__ == "__main__":
    main()
