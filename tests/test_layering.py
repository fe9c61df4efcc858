"""Data flows one way: corpus -> embed -> store -> heads -> predictions -> evaluation.

No module imports a stage downstream of its own, and the fit and evaluate stages reach the
embed stage only through the store and a few shared facts (the error type, file helpers,
device names, the challenges' format constants): they never run an encoder.

Four modules are the exception, by design: ``clapmos.evaluation.pipeline`` (fit -> predict ->
evaluate, what ``clapmos fit``/``predict`` run), ``clapmos.evaluation.predictor``
(``score``: new audio files -> embeddings -> a fitted run's predictions), and the commands that
call them (``evaluation/commands/fitting.py``, ``using_runs.py``). They sit at the end
of the flow and drive every stage before them, as ``cli.py`` does, so they may import any of
them; no other module of the packages may import them, so the scorer and reports stay free of
heads and encoders. Each stage's other commands live in it (``embed/commands.py``,
``heads/runs/commands.py``) and share ``embed/command_line.py`` (consoles, option checks).

Within the packages, no module imports one of its importers (no cycles, lazy imports inside
functions included; imports only for type checkers are not imports), and each room keeps to
its purpose: ``heads/`` holds the estimators a user picks, ``registry.py`` and the rooms
``nn`` (torch building blocks), ``inputs`` (what heads read) and ``runs`` (run machinery);
``embed/`` holds ``backends``, ``corpora``, ``store``, ``engines`` and a few shared modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("embed", "heads", "evaluation")
STORE_FACTS = {
    "clapmos.embed.store", "clapmos.embed.store.frames", "clapmos.embed.store.frame_store", "clapmos.embed.store.schema",
    "clapmos.embed.errors", "clapmos.embed.files", "clapmos.embed.ownership", "clapmos.embed.filesystems",
}
#: what every command shares (consoles, the exit-2 message, option checks): each stage's commands may import it
COMMAND_LINE = {"clapmos.embed.command_line"}
# package -> modules of other packages it may import
ALLOWED = {
    "embed": set(),
    "heads": STORE_FACTS | COMMAND_LINE | {"clapmos.embed.devices", "clapmos.embed.corpora.table"},  # frames: the store's tokens
    "evaluation": STORE_FACTS | COMMAND_LINE | {"clapmos.embed.corpora.formats"},
}
#: modules that join the stages (see the docstring): they may import any stage
ORCHESTRATION = {"evaluation/pipeline.py", "evaluation/predictor.py", "evaluation/commands/fitting.py", "evaluation/commands/using_runs.py"}
#: what the top of each package may hold besides its rooms (subpackages)
TOP_LEVEL = {
    "heads": {"__init__", "registry", "ridge", "lgbm", "mlp", "spo", "cosine", "svr", "dist", "coral", "attn_mlp", "xattn", "bt", "ldnet", "moe", "aligned"},
    "embed": {"__init__", "errors", "files", "ownership", "filesystems", "audio", "devices", "threads", "command_line", "commands"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["clapmos", *parts])


def source_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py")) + [ROOT / "cli.py"]


MODULES = {module_name(p): p for p in source_files()}


def imported_modules(path: Path) -> set[str]:
    """The clapmos modules ``path`` imports, at module level or inside functions, not under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in node.body
        for child in ast.walk(inner)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(MODULES)
            names |= submodules
            if len(submodules) < len(node.names):  # names defined in the module itself
                names.add(node.module)
    return {name for name in names if name.startswith("clapmos.")}


GRAPH = {name: imported_modules(path) & set(MODULES) for name, path in MODULES.items()}


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_reaches_against_the_data_flow(package):
    offending = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if str(path.relative_to(ROOT)) in ORCHESTRATION:
            continue
        for name in imported_modules(path):
            other = name.split(".")[1]
            if other in PACKAGES and other != package and name not in ALLOWED[package]:
                offending.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offending, "\n".join(offending)


def test_no_other_module_of_the_packages_imports_the_modules_that_join_the_stages():
    joining = {module_name(ROOT / m) for m in ORCHESTRATION}
    offending = [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if MODULES[name].relative_to(ROOT).as_posix() not in ORCHESTRATION and name != "clapmos.cli"
        for target in targets & joining
    ]
    assert not offending, "\n".join(offending)


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself), by Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_cycles():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_one_of_its_importers():
    assert import_cycles(GRAPH) == []


@pytest.mark.parametrize("package", sorted(TOP_LEVEL))
def test_the_top_of_a_package_holds_only_what_a_newcomer_looks_for(package):
    modules = {p.stem for p in (ROOT / package).glob("*.py")}
    assert modules <= TOP_LEVEL[package], f"move {sorted(modules - TOP_LEVEL[package])} into a room of {package}/"
    for room in (ROOT / package).iterdir():
        if room.is_dir() and room.name != "__pycache__":
            docstring = ast.get_docstring(ast.parse((room / "__init__.py").read_text()))
            assert docstring, f"{package}/{room.name}/__init__.py should say in one line what lives there"
