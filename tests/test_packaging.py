"""clapmos installs as one import name, ``clapmos``, and a user's own folders cannot shadow it.

The wheel is built with the standard front-end (``python -m build``) from a copy of the
sources, installed into a fresh virtual environment (its dependencies are this environment's,
reached through a path file, so nothing is downloaded), and used from a working directory
that has its own ``evaluation/`` package and ``cli.py``, as many research repositories do.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("embed", "heads", "evaluation")


def test_every_source_folder_is_a_listed_package():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {
        "clapmos." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in SOURCES
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert folders | {"clapmos"} == listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "clapmos"
    ignore = shutil.ignore_patterns(".venv", ".git", "demo", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "*.zarr")
    shutil.copytree(ROOT, source, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (found,) = out.glob("clapmos-*.whl")
    return found


def test_the_wheel_holds_one_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"clapmos"}
    assert {"clapmos/cli.py", "clapmos/embed/store/schema.py", "clapmos/heads/runs/run.py", "clapmos/evaluation/metrics.py"} <= set(names)
    assert not [n for n in names if n.startswith("clapmos/tests/") or n.startswith("clapmos/benchmarks/")]


def environment_with_our_dependencies(env: Path) -> Path:
    """A new virtual environment that sees this one's packages but not its (editable) clapmos."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    purelib = subprocess.run([env / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # a plain path entry does not run that folder's .pth files, so the editable finder stays out
    (Path(purelib) / "clapmos_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env


@pytest.fixture(scope="module")
def fresh_env(wheel, tmp_path_factory) -> Path:
    env = environment_with_our_dependencies(tmp_path_factory.mktemp("env") / "venv")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True,
    )
    return env


@pytest.fixture
def research_repo(tmp_path) -> Path:
    """A working directory with its own ``evaluation/`` package, ``cli.py``, ``heads.py`` and ``embed/``."""
    for name in ("evaluation", "embed"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('the research repository\\'s own {name} was imported')\n")
    (tmp_path / "cli.py").write_text("raise ImportError('the research repository\\'s own cli.py was imported')\n")
    (tmp_path / "heads.py").write_text("raise ImportError('the research repository\\'s own heads.py was imported')\n")
    return tmp_path


def run_in(env: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env={"PATH": f"{env / 'bin'}:/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})


def test_the_installed_command_and_package_work_beside_a_research_repository(fresh_env, research_repo):
    helped = run_in(fresh_env, research_repo, str(fresh_env / "bin" / "clapmos"), "--help")
    assert helped.returncode == 0 and "embed" in helped.stdout, helped.stderr
    code = (
        "import clapmos, sys\n"
        "from clapmos.evaluation import score\n"
        "from clapmos.heads.runs.persistence import trusted_types\n"
        "assert 'site-packages' in clapmos.__file__, clapmos.__file__\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('embed', 'heads', 'evaluation', 'cli')]\n"
        "print(round(float(score([1.0, 2.0, 3.0], [1.0, 2.5, 3.0], targets=['overall']).query(\"metric == 'SRCC'\")['value'].iloc[0]), 3))\n"
        "print(clapmos.make_head('ridge', target='overall').__class__.__name__, len(trusted_types()) > 5)\n"
    )
    used = run_in(fresh_env, research_repo, str(fresh_env / "bin" / "python"), "-c", code)
    assert used.returncode == 0, used.stderr
    assert used.stdout.split() == ["1.0", "Pipeline", "True"]


def test_the_checkout_runs_as_python_cli_py_without_an_install(tmp_path, research_repo):
    """``python cli.py`` from a checkout imports the checkout as ``clapmos`` when clapmos is not installed."""
    env = environment_with_our_dependencies(tmp_path / "venv")
    assert run_in(env, research_repo, str(env / "bin" / "python"), "-c", "import clapmos").returncode != 0  # not installed there
    done = run_in(env, research_repo, str(env / "bin" / "python"), str(ROOT / "cli.py"), "info", "--embedders")
    assert done.returncode == 0 and "spectral" in done.stdout, done.stderr
