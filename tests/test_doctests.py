"""Every docstring example of the package runs, as the installed ``clapmos`` modules.

pytest's ``--doctest-modules`` would import each file a second time under its folder's name
(``embed.store``), beside the ``clapmos.embed.store`` that the code imports; collecting the
examples from the imported package keeps one copy of every module.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import clapmos


def package_modules() -> list[str]:
    names = ["clapmos"]
    for info in pkgutil.walk_packages(clapmos.__path__, prefix="clapmos."):
        top = info.name.split(".")[1]
        if top in {"embed", "heads", "evaluation", "cli"}:
            names.append(info.name)
    return sorted(names)


MODULES = package_modules()


def test_every_room_is_collected():
    assert {"clapmos.cli", "clapmos.embed.store.feature_store", "clapmos.heads.runs.run", "clapmos.evaluation.metrics"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs=vars(module).copy()):
        runner.run(test, clear_globs=True)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed (printed above)"
