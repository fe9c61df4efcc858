"""The commands about runs themselves: `recipes` (published systems' settings) and `push` (a run to the Hub)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from clapmos.embed.command_line import out, user_errors
from clapmos.embed.errors import ClapmosError


@user_errors
def recipes(
    name: Annotated[Optional[str], typer.Argument(help="A recipe to show in full: every setting (published value, ours, why they differ), then its settings as options.")] = None,
) -> None:
    """List the recipes: published systems as `fit --recipe NAME` settings, with the figure each was published with."""
    from clapmos.heads.runs.recipes import describe, recipes_table

    text = describe(name) if name else recipes_table() + "\n\nShow one in full: clapmos recipes NAME"
    out.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)



@user_errors
def push(
    run: Annotated[Path, typer.Argument(help="Run folder written by `fit --out`.", show_default=False)],
    repo_id: Annotated[str, typer.Argument(metavar="REPO_ID", help="Hugging Face Hub model repository, org/name (created when absent).", show_default=False)],
    private: Annotated[bool, typer.Option("--private", help="Create the repository private.")] = False,
    message: Annotated[Optional[str], typer.Option(help="Commit message (default: clapmos run NAME).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the run and list what would be uploaded, without uploading.")] = False,
) -> None:
    """Upload a run to the Hugging Face Hub, with its model card (README.md), in one commit.

    The run is loaded first (every file's sha256 and its types checked), so a damaged run is never published. Log in
    first (`hf auth login`, or HF_TOKEN). Load it elsewhere with `clapmos score --model ORG/NAME` or
    Predictor.from_pretrained("ORG/NAME").
    """
    from clapmos.heads.runs.hub import push_run

    if message is not None and not message.strip():
        raise ClapmosError("--message: give a commit message, or leave the option out.")
    plan = push_run(run, repo_id, private=private, commit_message=message, dry_run=dry_run)
    if plan.card_written:
        out.print(f"wrote the model card {run / 'README.md'}", highlight=False)
    listing = "\n".join(f"  {name}" for name in plan.files)
    if dry_run:
        out.print(f"would upload {len(plan.files)} file(s) of {run} to {repo_id} (dry run, nothing uploaded):\n{listing}", highlight=False, soft_wrap=True)
    else:
        out.print(f"uploaded {len(plan.files)} file(s) of {run} to {repo_id}: {plan.url}", highlight=False, soft_wrap=True)
