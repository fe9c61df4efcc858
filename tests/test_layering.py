"""Data flows one way: corpus -> embed -> store -> heads -> predictions -> evaluation.

No module imports a stage downstream of its own, and the fit and evaluate stages reach the
embed stage only through the store (and the shared error type): they never run an encoder.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package -> modules of other packages it may import
ALLOWED = {
    "embed": set(),
    "heads": {"embed.store", "embed.frames", "embed.frame_store", "embed.errors", "embed.corpora.table"},  # frames: the store's tokens
    "evaluation": {"embed.store", "embed.errors"},
}
PACKAGES = set(ALLOWED)


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
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in PACKAGES and top != package and name not in ALLOWED[package]:
                offending.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offending, "\n".join(offending)
