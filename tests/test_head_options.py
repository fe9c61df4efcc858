"""Run options that only some heads read are refused when none of the run's heads reads them (never silently ignored).

The table below is written out by hand, head by head: which of ``--screening-tau``, ``--device``,
``--pretrain-store`` and ``--features`` each head uses. A run whose every member would ignore an
option it was given is refused with a message naming the option and the heads that do use it; in
a mixed run the members that read the option use it.
"""

from __future__ import annotations

import pytest

from clapmos.embed.errors import ClapmosError
from clapmos.heads.registry import HEAD_NAMES
from clapmos.heads.runs.run import RunConfig
from clapmos.heads.runs.validation import HEAD_OPTIONS, check_options_used, option_used

#: option -> the heads that use it (every other head: refused)
USED_BY = {
    "screening_tau": {"spo_mlp", "cosine", "attn_mlp", "xattn"},  # SPO's listener screening (frame heads: their listener targets)
    "device": {"mlp", "spo_mlp", "cosine", "dist", "coral", "attn_mlp", "xattn", "ldnet", "moe", "aligned"},  # the torch heads
    "pretrain_store": {"mlp", "spo_mlp", "dist", "coral", "ldnet", "moe", "aligned"},  # clip-vector torch heads with a network to start from
    "features": set(HEAD_NAMES) - {"cosine", "xattn"},  # cosine compares the whole vectors; xattn always attends from the text
}
VALUES = {"screening_tau": 0.5, "device": "cpu", "pretrain_store": "unrated.zarr", "features": ["audio"]}


def test_the_table_covers_every_option_and_every_head():
    assert set(USED_BY) == set(HEAD_OPTIONS)
    assert all(users <= set(HEAD_NAMES) for users in USED_BY.values())


@pytest.mark.parametrize("head", HEAD_NAMES)
@pytest.mark.parametrize("option", sorted(HEAD_OPTIONS))
def test_an_option_is_used_by_its_heads_and_refused_for_the_others(option, head):
    assert option_used(option, head) == (head in USED_BY[option])
    config = RunConfig(embedders=["clap"], heads=[head], **{option: VALUES[option]})
    if head in USED_BY[option]:
        check_options_used(config)
    else:
        with pytest.raises(ClapmosError, match=f"{HEAD_OPTIONS[option]} is read by none of --head {head}; it is used by "):
            check_options_used(config)


def test_in_a_mixed_run_the_members_that_read_an_option_use_it():
    check_options_used(RunConfig(embedders=["clap"], heads=["dist", "spo_mlp"], screening_tau=0.5))
    check_options_used(RunConfig(embedders=["clap"], heads=["ridge", "mlp"], device="cpu"))


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from clapmos.embed.corpora.demo import make_demo_corpus

    folder = tmp_path_factory.mktemp("options")
    make_demo_corpus(folder / "corpus", n_clips=24, seed=0)
    embedded = fit_cli(["embed", "--corpus", "musiceval", "--root", str(folder / "corpus"), "--embedder", "spectral", "--out", str(folder / "store.zarr")])
    assert embedded.exit_code == 0, embedded.output
    return folder / "store.zarr"


def fit_cli(args: list[str]):
    from typer.testing import CliRunner

    from clapmos import cli

    return CliRunner().invoke(cli.app, args)


def test_fit_dist_with_screening_tau_is_refused_on_the_command_line(demo_store, tmp_path):
    result = fit_cli(["fit", "--store", str(demo_store), "--embedder", "spectral", "--head", "dist",
                      "--screening-tau", "0.5", "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and "--screening-tau is read by none of --head dist" in " ".join(result.output.split())
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("heads", "extra", "why"), [
    ("ridge", [], "--head ridge is one head"),
    ("ridge,mlp", ["--average"], "--average averages the heads instead"),
])
def test_a_stack_method_with_nothing_to_stack_is_refused(demo_store, tmp_path, heads, extra, why):
    result = fit_cli(["fit", "--store", str(demo_store), "--embedder", "spectral", "--head", heads, *extra,
                      "--stack-method", "nnls", "--out", str(tmp_path / "run")])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"--stack-method nnls says how several heads are combined, and {why}: it would be ignored" in said
    assert not (tmp_path / "run").exists()
