"""The notebooks run top to bottom on the demo store, from the notebooks/ folder, with no edits."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from typer.testing import CliRunner

from clapmos import cli

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def demo_checkout(tmp_path_factory):
    """A folder laid out like the repository after `make demo`: demo/store.zarr beside notebooks/."""
    root = tmp_path_factory.mktemp("checkout")
    runner = CliRunner()
    assert runner.invoke(cli.app, ["make-demo", str(root / "demo" / "corpus")]).exit_code == 0
    embedded = runner.invoke(
        cli.app, ["embed", "--corpus", "musiceval", "--root", str(root / "demo" / "corpus"),
                  "--embedder", "spectral", "--out", str(root / "demo" / "store.zarr")]
    )
    assert embedded.exit_code == 0, embedded.output
    (root / "notebooks").mkdir()
    return root


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_listeners_and_spo.ipynb", "03_frames_and_attention.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_outputs_are_stripped_in_git(path):
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, demo_checkout):
    target = demo_checkout / "notebooks" / path.name
    shutil.copy(path, target)
    book = nbformat.read(target, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(target.parent)}}).execute()
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
