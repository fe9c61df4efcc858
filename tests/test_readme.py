"""The README cannot drift from the code: its commands parse, its workflow runs, its snippets run.

Its commands are written `clapmos ...` (the console script); `python cli.py ...` is the same app.

Commands that need the challenges' data or weights (MusicEval, XACLE, M2D, a CLAP checkpoint)
cannot run here; each is parsed by the real command-line parser (option names, types, required
options), and the same commands run for real on the demo corpus in the workflow test.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import sklearn
import typer
from typer.testing import CliRunner

from clapmos import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def commands(block: str) -> list[str]:
    """Lines of a shell block, continuation backslashes joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.split(" #")[0].strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


CLI_COMMANDS = [c for block in code_blocks("bash") for c in commands(block) if c.startswith("clapmos ")]
WORKFLOW = commands(re.findall(r"```bash\n(.*?)```", section("Workflow"), flags=re.S)[0])


def test_readme_opens_with_the_two_commands():
    first = commands(code_blocks("bash")[0])
    assert [c.split()[:2] for c in first] == [["make", "demo"], ["make", "test"]]
    assert README.index("```bash") < README.index("clapmos predicts")


@pytest.mark.parametrize("command", CLI_COMMANDS)
def test_every_cli_command_in_the_readme_parses(command):
    args = shlex.split(command)[1:]
    group = typer.main.get_command(cli.app)
    sub = group.get_command(None, args[0])
    assert sub is not None, f"no command {args[0]!r}"
    sub.make_context(args[0], args[1:])  # raises on unknown options, bad types, missing required options


def test_make_demo_runs_the_readme_workflow():
    makefile = (ROOT / "Makefile").read_text()
    demo = [line.strip().replace("$(OFFLINE) $(CLAPMOS) ", "clapmos ").replace("$(DEMO)", "demo")
            for line in makefile[makefile.index("\ndemo:"):].splitlines()[1:] if "$(CLAPMOS)" in line]
    assert demo == WORKFLOW


@pytest.fixture(scope="module")
def workflow_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    runner = CliRunner()
    outputs = []
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for command in WORKFLOW:
            result = runner.invoke(cli.app, shlex.split(command)[1:], catch_exceptions=False)
            assert result.exit_code == 0, f"{command}\n{result.output}"
            outputs.append(result.output)
    return folder, outputs


def output_of(outputs: list[str], command: str) -> str:
    return next(out for line, out in zip(WORKFLOW, outputs) if line.startswith(f"clapmos {command} "))


def test_the_workflow_runs_verbatim_on_the_demo_corpus(workflow_folder):
    folder, outputs = workflow_folder
    assert (folder / "demo" / "answer.txt").is_file() and (folder / "demo" / "scores.csv").is_file()
    assert "| level | target | MSE | LCC | SRCC | KTAU | N |" in output_of(outputs, "evaluate")


def test_the_printed_evaluate_table_has_the_shape_the_readme_shows(workflow_folder):
    shown = README[README.index("$ clapmos evaluate"):].split("```")[0]
    _, outputs = workflow_folder
    for line in output_of(outputs, "evaluate").splitlines()[:6]:
        label = "|".join(line.split("|")[:3])
        assert label in shown


def test_the_printed_system_table_has_the_shape_the_readme_shows(workflow_folder):
    shown = README[README.index("$ clapmos score"):].split("```")[0]
    assert shown.splitlines()[0].removeprefix("$ ") in WORKFLOW
    _, outputs = workflow_folder
    printed = output_of(outputs, "score")
    table = [line for line in printed.splitlines() if line.startswith("| S") and line.count("|") == 4]
    assert len(table) == 8
    for line in table:  # system and clip count as shown; the means of a fresh demo may differ in the last digit
        assert "|".join(line.split("|")[:3]) in shown
    for heading in ("systems (mean predicted score, 95% interval over clips", "| ahead of → | S001 |", "share of draws in which the row system is ahead"):
        assert heading in printed and heading in shown


# The Slurm cluster script needs a Slurm cluster; it is marked as such in the README.
SNIPPETS = [block for block in code_blocks("python") if "not run by the tests" not in block]


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_python_snippets_run_on_the_demo_store(workflow_folder, index, monkeypatch):
    """The snippets name real stores and embedders; here they run on the demo store."""
    folder, _ = workflow_folder
    monkeypatch.chdir(folder)
    snippet = SNIPPETS[index]
    for real, demo in [('"musiceval.zarr"', '"demo/store.zarr"'), ('"clap"', '"spectral"'), ('"m2d"', '"spectral"'),
                       ('"alignment"', '"overall"')]:
        snippet = snippet.replace(real, demo)
    namespace: dict = {}
    if "store." in snippet and "store =" not in snippet:
        exec("from clapmos.embed.store import FeatureStore\nstore = FeatureStore.open('demo/store.zarr')", namespace)
    before = sklearn.get_config()
    with sklearn.config_context():  # a snippet may switch metadata routing on: it is switched back after it
        exec(compile(snippet, f"README python block {index}", "exec"), namespace)
    assert sklearn.get_config() == before  # later tests see scikit-learn as it was
