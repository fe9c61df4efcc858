"""Unknown names (head, recipe, embedder) are answered before any heavy import: no torch, scikit-learn, scipy or zarr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "sklearn", "scipy", "zarr", "transformers", "lightgbm", "pandas")
PROBE = """
import json, sys
from typer.testing import CliRunner
from clapmos import cli
result = CliRunner().invoke(cli.app, sys.argv[1:])
print(json.dumps({"code": result.exit_code, "output": result.output, "heavy": sorted(m for m in %r if m in sys.modules)}))
""" % (HEAVY,)


def answer(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "--store", "absent.zarr", "--out", "run", "--head", "ridge,nope"], "unknown head(s) nope"),
        (["fit", "--store", "absent.zarr", "--out", "run", "--head", "svr:a,nope:b"], "unknown head(s) nope:b"),
        (["fit", "--store", "absent.zarr", "--out", "run", "--recipe", "nope"], "--recipe 'nope' does not exist"),
        (["embed", "--corpus", "musiceval", "--root", "absent", "--out", "s.zarr", "--embedder", "nope"], "--embedder 'nope': unknown embedder"),
        (["recipes", "nope"], "--recipe 'nope' does not exist"),
    ],
)
def test_an_unknown_name_is_one_message_before_any_heavy_import(args, message):
    result = answer(*args)
    assert result["code"] == 2 and message in " ".join(result["output"].split())
    assert result["heavy"] == []


def test_the_embedder_names_are_known_without_importing_the_embedders():
    from clapmos.embed.backends import available_embedders
    from clapmos.embed.backends.registry import BUILTIN_EMBEDDERS

    assert set(BUILTIN_EMBEDDERS) <= set(available_embedders())
    for name, cls in available_embedders().items():
        if name in BUILTIN_EMBEDDERS:
            assert cls.__module__ == BUILTIN_EMBEDDERS[name] and cls.name == name
