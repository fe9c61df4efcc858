"""Every option of every command answers a bad value with one message naming it: exit 2, no traceback, nothing written.

The commands and options are enumerated from the typer app, so a new option fails
``test_every_option_has_an_invalid_example`` until it gets a line in :data:`INVALID`: the
command, the option, and arguments that give it a bad value (placeholders in braces are
filled by the ``places`` fixture: ``{store}``, ``{run}``, ``{answer}``, ``{manifest}`` exist;
``{file}`` and ``{folder}`` are the user's own; ``{new}`` and ``{missing}`` do not exist,
and ``{new}`` must still not exist afterwards).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from clapmos import cli

EMBED = ["embed", "--corpus", "manifest", "--root", "{manifest}", "--embedder", "spectral", "--out", "{new}"]
FIT = ["fit", "--store", "{store}", "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--out", "{new}"]
PREDICT = ["predict", "--model", "{run}", "--store", "{store}", "--out", "{new}"]
ZERO_SHOT = ["score-zero-shot", "--store", "{store}", "--embedder", "spectral"]
EVALUATE = ["evaluate", "--pred", "{answer}", "--store", "{store}", "--split", "dev", "--out-dir", "{new}"]
SCORE = ["score", "--model", "{run}", "{wavs}", "--out", "{new}/scores.csv", "--no-plots"]
RUNS = ["runs", "{run}"]


def with_option(base: list[str], option: str, *value: str) -> list[str]:
    """``base`` with ``option`` set to ``value`` (replacing it if ``base`` sets it already)."""
    args = list(base)
    if option in args:
        i = args.index(option)
        del args[i : i + 2]
    return [*args, option, *value]


# (command, option) -> (arguments, what the message must name); "" is the app's own options
INVALID: dict[tuple[str, str], tuple[list[str], str]] = {
    ("", "--verbose"): (["--verbose=yes", "info", "--embedders"], "--verbose"),
    ("make-demo", "out_dir"): (["make-demo", "{folder}"], "is not a demo corpus"),
    ("make-demo", "--clips"): (["make-demo", "{new}", "--clips", "5"], "--clips"),
    ("make-demo", "--seed"): (["make-demo", "{new}", "--seed", "-1"], "--seed"),
    ("embed", "--corpus"): (with_option(EMBED, "--corpus", "nope"), "--corpus"),
    ("embed", "--root"): (with_option(EMBED, "--root", "{missing}"), "--root"),
    ("embed", "--out"): (with_option(EMBED, "--out", "{file}"), "--out"),
    ("embed", "--embedder"): (with_option(EMBED, "--embedder", "nope"), "--embedder"),
    ("embed", "--split"): (with_option(EMBED, "--split", "nope"), "--split"),
    ("embed", "--batch-size"): (with_option(EMBED, "--batch-size", "0"), "--batch-size"),
    ("embed", "--device"): (with_option(EMBED, "--device", "tpu"), "--device"),
    ("embed", "--workers"): (with_option(EMBED, "--workers", "0"), "--workers"),
    ("embed", "--threads"): (with_option(EMBED, "--threads", "0"), "--threads"),
    ("embed", "--window-s"): (with_option(EMBED, "--window-s", "0"), "--window-s"),
    ("embed", "--hop-s"): (with_option(EMBED, "--hop-s", "-1"), "--hop-s"),
    ("embed", "--checkpoint"): (with_option(with_option(EMBED, "--embedder", "clap"), "--checkpoint", "{missing}"), "--checkpoint"),
    ("embed", "--tokenizer"): (with_option(with_option(EMBED, "--embedder", "clap"), "--tokenizer", "{missing}"), "--tokenizer"),
    ("embed", "--m2d-portable"): (with_option(with_option(EMBED, "--embedder", "m2d"), "--m2d-portable", "{missing}"), "--m2d-portable"),
    ("embed", "--precision"): (with_option(EMBED, "--precision", "int8"), "--precision"),
    ("embed", "--overwrite"): ([*with_option(EMBED, "--out", "{folder}"), "--overwrite"], "--overwrite"),
    ("embed", "--rebuild"): ([*with_option(EMBED, "--out", "{folder}"), "--rebuild"], "--rebuild"),
    ("embed", "--score-range"): (with_option(EMBED, "--score-range", "mos=5,1"), "--score-range"),
    ("embed", "--engine"): (with_option(EMBED, "--engine", "spark"), "--engine"),
    ("embed", "--scheduler"): (with_option(EMBED, "--scheduler", "tcp://127.0.0.1:1"), "--scheduler"),
    ("embed", "--n-workers"): (with_option(EMBED, "--n-workers", "0"), "--n-workers"),
    ("info", "store"): (["info", "{missing}"], "STORE {missing}: no such folder"),
    ("info", "--embedders"): (["info", "--embedders=yes"], "--embedders"),
    ("fit", "--store"): (with_option(FIT, "--store", "{missing}"), "--store"),
    ("fit", "--out"): (with_option(FIT, "--out", "{file}"), "--out"),
    ("fit", "--embedder"): (with_option(FIT, "--embedder", "clap"), "--embedder"),
    ("fit", "--head"): (with_option(FIT, "--head", "nope"), "--head"),
    ("fit", "--features"): (with_option(FIT, "--features", "audo"), "--features"),
    ("fit", "--target"): (with_option(FIT, "--target", "nope"), "--target"),
    ("fit", "--train-split"): (with_option(FIT, "--train-split", "nope"), "--train-split"),
    ("fit", "--eval-split"): (with_option(FIT, "--eval-split", "train"), "--eval-split"),
    ("fit", "--cv"): (with_option(FIT, "--cv", "0"), "--cv"),
    ("fit", "--group"): (with_option(FIT, "--group", "genre"), "--group"),
    ("fit", "--seeds"): (with_option(FIT, "--seeds", "0"), "--seeds"),
    ("fit", "--screening-tau"): (with_option(with_option(FIT, "--head", "spo_mlp"), "--screening-tau", "-1"), "--screening-tau"),
    ("fit", "--param"): (with_option(with_option(FIT, "--head", "mlp"), "--param", "dropout=2"), "--param dropout=2"),
    ("fit", "--stack"): ([*FIT, "--stack=yes"], "--stack"),
    ("fit", "--seed"): (with_option(FIT, "--seed", "-1"), "--seed"),
    ("fit", "--threads"): (with_option(FIT, "--threads", "0"), "--threads"),
    ("fit", "--plots"): ([*FIT, "--plots=yes"], "--plots"),
    ("fit", "--target-map"): (with_option(FIT, "--target-map", "b:mos=overall"), "--target-map"),
    ("predict", "--corpus"): (with_option(PREDICT, "--corpus", "nope"), "--corpus nope"),
    ("fit", "--pretrain-store"): (with_option(FIT, "--pretrain-store", "{missing}"), "--pretrain-store"),
    ("fit", "--pretrain-embedder"): (with_option(with_option(FIT, "--pretrain-store", "{store}"), "--pretrain-embedder", "nope"), "--pretrain-embedder"),
    ("predict", "--model"): (with_option(PREDICT, "--model", "{missing}"), "--model"),
    ("predict", "--store"): (with_option(PREDICT, "--store", "{missing}"), "--store"),
    ("predict", "--out"): (with_option(PREDICT, "--out", "{file}"), "--out"),
    ("predict", "--split"): (with_option(PREDICT, "--split", "nope"), "--split"),
    ("predict", "--format"): (with_option(PREDICT, "--format", "parquet"), "--format"),
    ("score-zero-shot", "--store"): (with_option(ZERO_SHOT, "--store", "{missing}"), "--store"),
    ("score-zero-shot", "--embedder"): (with_option(ZERO_SHOT, "--embedder", "clap"), "--embedder"),
    ("score-zero-shot", "--split"): (with_option(ZERO_SHOT, "--split", "nope"), "--split"),
    ("score-zero-shot", "--out"): (with_option(ZERO_SHOT, "--out", "{file}"), "--out"),
    ("evaluate", "--pred"): (with_option(EVALUATE, "--pred", "{missing}"), "--pred"),
    ("evaluate", "--store"): (with_option(EVALUATE, "--store", "{missing}"), "--store"),
    ("evaluate", "--split"): (with_option(EVALUATE, "--split", "nope"), "--split"),
    ("evaluate", "--truth"): (["evaluate", "--pred", "{answer}", "--truth", "{missing}", "--out-dir", "{new}"], "--truth"),
    ("evaluate", "--system-truth"): (with_option(EVALUATE, "--system-truth", "{missing}"), "--system-truth"),
    ("evaluate", "--format"): (with_option(EVALUATE, "--format", "parquet"), "--format"),
    ("evaluate", "--out-dir"): (with_option(EVALUATE, "--out-dir", "{file}"), "--out-dir"),
    ("evaluate", "--plots"): ([*EVALUATE, "--plots=yes"], "--plots"),
    ("evaluate", "--check"): ([*EVALUATE, "--check=yes"], "--check"),
    ("evaluate", "--leaderboard"): ([*EVALUATE, "--leaderboard"], "--leaderboard"),  # the demo store has no votes
    ("evaluate", "--min-votes"): (with_option(EVALUATE, "--min-votes", "0"), "--min-votes"),
    ("embed", "--model-path"): (with_option(with_option(EMBED, "--embedder", "hf-clap"), "--model-path", "{missing}"), "--model-path"),
    ("embed", "--layer"): (with_option(with_option(with_option(EMBED, "--embedder", "hf-audio"), "--model-path", "{folder}"), "--layer", "top"), "--"),
    ("embed", "--name"): (with_option(EMBED, "--name", "a,b"), "--name"),
    ("fit", "--recipe"): (with_option(FIT, "--recipe", "nope"), "--recipe"),
    ("fit", "--stack-method"): (with_option(FIT, "--stack-method", "vote"), "--stack-method"),
    ("fit", "--clip"): (with_option(FIT, "--clip", "10,0"), "--clip"),
    ("embed", "--frames"): ([*with_option(EMBED, "--embedder", "hf-clap"), "--frames"], "--frames"),
    ("embed", "--frame-dtype"): (with_option(EMBED, "--frame-dtype", "int8"), "--frame-dtype"),
    ("fit", "--device"): (with_option(FIT, "--device", "gpu"), "--device"),
    ("recipes", "name"): (["recipes", "nope"], "--recipe 'nope'"),
    ("score", "inputs"): (["score", "--model", "{run}", "{missing}", "--out", "{new}/scores.csv"], "{missing}"),
    ("score", "--model"): (with_option(SCORE, "--model", "{missing}"), "--model"),
    ("score", "--out"): (with_option(SCORE, "--out", "{new}/scores.txt"), "--out"),
    ("score", "--cache"): (with_option(SCORE, "--cache", "{folder}"), "--cache"),
    ("score", "--checkpoint"): (with_option(SCORE, "--checkpoint", "clap=a=b"), "--checkpoint"),
    ("score", "--tokenizer"): (with_option(SCORE, "--tokenizer", "nope={missing}"), "--tokenizer"),
    ("score", "--m2d-portable"): (with_option(SCORE, "--m2d-portable", "nope={missing}"), "--m2d-portable"),
    ("score", "--model-path"): (with_option(SCORE, "--model-path", "nope={missing}"), "--model-path"),
    ("score", "--device"): (with_option(SCORE, "--device", "tpu"), "--device"),
    ("score", "--batch-size"): (with_option(SCORE, "--batch-size", "0"), "--batch-size"),
    ("score", "--workers"): (with_option(SCORE, "--workers", "0"), "--workers"),
    ("score", "--system-from"): (with_option(SCORE, "--system-from", "(unclosed"), "--system-from"),
    ("score", "--skip-bad"): ([*SCORE, "--skip-bad=yes"], "--skip-bad"),
    ("score", "--draws"): (with_option(SCORE, "--draws", "5"), "--draws"),
    ("score", "--confidence"): (with_option(SCORE, "--confidence", "1.5"), "--confidence"),
    ("score", "--seed"): (with_option(SCORE, "--seed", "-1"), "--seed"),
    ("score", "--plots"): ([*SCORE, "--plots=yes"], "--plots"),
    ("score", "--plugin"): (with_option(SCORE, "--plugin", "nope={missing}"), "--plugin"),
    ("score", "--clip"): ([*SCORE, "--clip=yes"], "--clip"),
    ("evaluate", "--draws"): (with_option(EVALUATE, "--draws", "-1"), "--draws"),
    ("evaluate", "--confidence"): (with_option(EVALUATE, "--confidence", "1.5"), "--confidence"),
    ("evaluate", "--seed"): (with_option(EVALUATE, "--seed", "-1"), "--seed"),
    ("evaluate", "--against"): (with_option(EVALUATE, "--against", "{missing}"), "--against"),
    ("evaluate", "--train-split"): (with_option(EVALUATE, "--train-split", "nope"), "--train-split"),
    ("evaluate", "--report"): ([*EVALUATE, "--report=yes"], "--report"),
    ("fit", "--draws"): (with_option(FIT, "--draws", "-1"), "--draws"),
    ("fit", "--confidence"): (with_option(FIT, "--confidence", "1.5"), "--confidence"),
    ("report", "run_folder"): (["report", "{missing}", "--out", "{new}/r.html"], "{missing}"),
    ("report", "--out"): (["report", "{run}", "--out", "{file}"], "--out"),
    ("report", "--store"): (["report", "{run}", "--store", "{missing}", "--out", "{new}/r.html"], "--store"),
    ("report", "--worst"): (["report", "{run}", "--worst", "0", "--out", "{new}/r.html"], "--worst"),
    ("report", "--draws"): (["report", "{run}", "--draws", "-1", "--out", "{new}/r.html"], "--draws"),
    ("report", "--confidence"): (["report", "{run}", "--confidence", "1.5", "--out", "{new}/r.html"], "--confidence"),
    ("report", "--seed"): (["report", "{run}", "--seed", "-1", "--out", "{new}/r.html"], "--seed"),
    ("runs", "--draws"): (with_option(RUNS, "--draws", "-1"), "--draws"),
    ("runs", "--confidence"): (with_option(RUNS, "--confidence", "1.5"), "--confidence"),
    ("runs", "--seed"): (with_option(RUNS, "--seed", "-1"), "--seed"),
    ("score", "--engine"): (with_option(SCORE, "--engine", "spark"), "--engine"),
    ("score", "--scheduler"): (with_option(SCORE, "--scheduler", "tcp://127.0.0.1:1"), "--scheduler"),
    ("score", "--n-workers"): (with_option(SCORE, "--n-workers", "0"), "--n-workers"),
    ("push", "run"): (["push", "{folder}", "org/name", "--dry-run"], "{folder} is not a clapmos run folder"),
    ("push", "repo_id"): (["push", "{run}", "not a repo", "--dry-run"], "not a repo: a Hub repository id"),
    ("push", "--private"): (["push", "{run}", "org/name", "--dry-run", "--private=yes"], "--private"),
    ("push", "--message"): (["push", "{run}", "org/name", "--dry-run", "--message", " "], "--message"),
    ("push", "--dry-run"): (["push", "{run}", "org/name", "--dry-run=yes"], "--dry-run"),
    ("runs", "folders"): (["runs", "{folder}"], "{folder}"),
    ("runs", "--sort"): (with_option(RUNS, "--sort", "nope"), "--sort"),
    ("runs", "--out"): (with_option(RUNS, "--out", "{new}/table.txt"), "--out"),
    ("runs", "--plots"): ([*RUNS, "--plots=yes"], "--plots"),
}


def cli_options() -> set[tuple[str, str]]:
    """Every (command, option) of the app: options by their first long name, arguments by name."""
    group = typer.main.get_command(cli.app)
    found = {("", p.opts[0] if p.param_type_name == "option" else p.name) for p in group.params}
    for name, command in group.commands.items():
        for param in command.params:
            long = [o for o in param.opts if o.startswith("--")]
            found.add((name, long[0] if param.param_type_name == "option" and long else param.name))
    return {key for key in found if key[1] not in ("--help", "help")}


def test_every_option_has_an_invalid_example():
    options = cli_options()
    missing = sorted(options - set(INVALID))
    assert not missing, f"add an invalid example to INVALID for: {missing}"
    assert not sorted(set(INVALID) - options), "INVALID names options the app no longer has"


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    from clapmos.embed.corpora.demo import make_demo_corpus
    from tests.layouts import write_manifest

    folder = tmp_path_factory.mktemp("surface")
    make_demo_corpus(folder / "corpus", n_clips=24, seed=4)
    runner = CliRunner()
    for args in (
        ["embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--out", folder / "store.zarr"],
        ["fit", "--store", folder / "store.zarr", "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--out", folder / "run"],
        ["predict", "--model", folder / "run", "--store", folder / "store.zarr", "--split", "dev", "--format", "audiomos", "--out", folder / "answer.txt"],
    ):
        result = runner.invoke(cli.app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    (folder / "notes.txt").write_text("the user's own file\n")
    (folder / "mine").mkdir()
    (folder / "mine" / "thesis.tex").write_text("the user's own folder\n")
    return {
        "store": folder / "store.zarr", "run": folder / "run", "answer": folder / "answer.txt",
        "manifest": write_manifest(folder / "manifest"), "file": folder / "notes.txt", "folder": folder / "mine",
        "missing": folder / "missing.thing", "wavs": folder / "corpus" / "wav",
    }


@pytest.mark.parametrize(("command", "option"), sorted(INVALID), ids=lambda v: v or "app")
def test_a_bad_value_is_one_message_naming_the_option_with_exit_status_2(places, tmp_path, command, option):
    args, named = INVALID[(command, option)]
    fill = {**{k: str(v) for k, v in places.items()}, "new": str(tmp_path / "new")}
    result = CliRunner().invoke(cli.app, [a.format(**fill) for a in args])
    assert result.exit_code == 2, f"{command} {option}: exit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert named.format(**fill) in result.output, result.output
    assert not Path(fill["new"]).exists(), "something was written"
    assert (places["file"]).read_text() == "the user's own file\n"
    assert sorted(p.name for p in places["folder"].iterdir()) == ["thesis.tex"]


def test_help_is_plain_text_that_names_every_option(tmp_path):
    group = typer.main.get_command(cli.app)
    for name in ["", *group.commands]:
        result = CliRunner().invoke(cli.app, [name, "--help"] if name else ["--help"])
        assert result.exit_code == 0
        assert "<bool>" not in result.output and "``" not in result.output and ":class:" not in result.output
    embed_help = " ".join(CliRunner().invoke(cli.app, ["embed", "--help"]).output.split())
    assert "pip install 'clapmos[dask]'" in embed_help  # not swallowed as markup
