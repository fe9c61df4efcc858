"""Data flows one way: corpus -> embed -> store -> heads -> predictions -> evaluation.

No module imports a stage downstream of its own, and the fit and evaluate stages reach the
embed stage only through the store and a few shared facts (the error type, file helpers,
device names, the challenges' format constants): they never run an encoder.

Two modules are the exception, by design: ``evaluation.pipeline`` (fit -> predict -> evaluate,
what ``cli.py fit``/``predict`` run) and ``evaluation.predictor`` (``score``: new audio files ->
embeddings -> a fitted run's predictions). They sit at the end of the flow and drive every
stage before them, as ``cli.py`` does, so they may import any of them; no other module of the
packages may import them, so the scorer and reports stay free of heads and encoders.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package -> modules of other packages it may import
ALLOWED = {
    "embed": set(),
    "heads": {"embed.store", "embed.frames", "embed.frame_store", "embed.errors", "embed.files", "embed.devices", "embed.corpora.table"},  # frames: the store's tokens
    "evaluation": {"embed.store", "embed.errors", "embed.files", "embed.corpora.formats"},
}
PACKAGES = set(ALLOWED)
#: modules that join the stages (see the docstring): they may import any stage
ORCHESTRATION = {"evaluation/pipeline.py", "evaluation/predictor.py"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_module_reaches_against_the_data_flow(package):
    offending = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if str(path.relative_to(ROOT)) in ORCHESTRATION:
            continue
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in PACKAGES and top != package and name not in ALLOWED[package]:
                offending.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offending, "\n".join(offending)


def test_no_other_module_of_the_packages_imports_the_modules_that_join_the_stages():
    modules = {m.removesuffix(".py").replace("/", ".") for m in ORCHESTRATION}
    offending = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in sorted(PACKAGES)
        for path in sorted((ROOT / package).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in ORCHESTRATION
        for name in imported_modules(path)
        if name in modules
    ]
    assert not offending, "\n".join(offending)
