"""clapmos command line: embed a corpus once, then fit, predict and evaluate in seconds.

\b
    clapmos make-demo demo/corpus
    clapmos embed --corpus musiceval --root demo/corpus --embedder spectral --out demo/store.zarr
    clapmos info demo/store.zarr

Run `clapmos COMMAND --help` for the options of a command (`python cli.py ...` is the same).

Bad input stops with one message and exit status 2, and nothing is written.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer


def _checkout_as_package() -> None:
    """`python cli.py` from a checkout: this folder is the package `clapmos` (as pyproject.toml maps it),
    whether or not it is installed, and whatever other clapmos is installed."""
    import importlib.util
    import sys

    root = Path(__file__).resolve().parent
    found = importlib.util.find_spec("clapmos")
    if found is not None and found.origin and Path(found.origin).resolve() == root / "__init__.py":
        return
    spec = importlib.util.spec_from_file_location("clapmos", root / "__init__.py", submodule_search_locations=[str(root)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["clapmos"] = package
    spec.loader.exec_module(package)


if __name__ == "__main__":
    _checkout_as_package()

from clapmos.embed import commands as embed_commands
from clapmos.embed.command_line import err, out  # noqa: F401  (the consoles, for callers that set their width)
from clapmos.evaluation.commands import evaluating, fitting, using_runs
from clapmos.heads.runs import commands as run_commands

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no markup to escape, nothing swallowed, readable when piped
    help=__doc__,
)
CLAPMOS_LOGGERS = ("clapmos", "__main__")  # what -v shows at debug level

# Each command lives beside what it runs; listed here in the order `clapmos --help` shows them.
COMMANDS = {
    "make-demo": embed_commands.make_demo,
    "embed": embed_commands.embed,
    "info": embed_commands.info,
    "recipes": run_commands.recipes,
    "fit": fitting.fit,
    "predict": fitting.predict,
    "score-zero-shot": fitting.score_zero_shot,
    "evaluate": evaluating.evaluate,
    "score": using_runs.score,
    "push": run_commands.push,
    "runs": using_runs.runs,
    "report": using_runs.report_command,
}
for _name, _command in COMMANDS.items():
    app.command(_name)(_command)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show clapmos's debug messages (not its libraries').")] = False) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in CLAPMOS_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.NOTSET)


def main() -> None:
    """Entry point of the ``clapmos`` console script."""
    app()


if __name__ == "__main__":
    main()
