"""clapmos command line: embed a corpus once, then fit, predict and evaluate in seconds.

    python cli.py make-demo demo/corpus
    python cli.py embed --corpus musiceval --root demo/corpus --embedder spectral --out demo/store.zarr
    python cli.py info demo/store.zarr

Run ``python cli.py COMMAND --help`` for the options of each command.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from embed.errors import ClapmosError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    help=__doc__,
)
err = Console(stderr=True)
out = Console()


def user_errors(command):
    """Report :class:`ClapmosError` as one readable message and exit status 2 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ClapmosError as error:
            err.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
            raise typer.Exit(2) from None

    return wrapper


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# --------------------------------------------------------------------------- embed stage
@app.command("make-demo")
@user_errors
def make_demo(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the demo corpus into (MusicEval layout).")],
    clips: Annotated[int, typer.Option(help="Number of clips.")] = 240,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Write a small synthetic corpus in the MusicEval layout (test and demo data, not music)."""
    from embed.corpora.demo import make_demo_corpus

    summary = make_demo_corpus(out_dir, n_clips=clips, seed=seed)
    out.print(summary)


@app.command()
@user_errors
def embed(
    corpus: Annotated[str, typer.Option(help="Corpus layout: musiceval, musiceval-eval, xacle or manifest.")],
    root: Annotated[Path, typer.Option(help="Release folder (or the manifest file for 'manifest').")],
    out_store: Annotated[Path, typer.Option("--out", help="Zarr store to create or complete.")],
    embedder: Annotated[str, typer.Option(help="Embedder name (see `info --embedders`).")] = "clap",
    split: Annotated[Optional[list[str]], typer.Option(help="Split(s) to embed; default: every split.")] = None,
    batch_size: Annotated[int, typer.Option(help="Audio windows per forward pass.")] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    workers: Annotated[int, typer.Option(help="Threads that read and resample audio ahead of the model.")] = 2,
    window_s: Annotated[Optional[float], typer.Option(help="Window length in seconds (default: the embedder's).")] = None,
    hop_s: Annotated[Optional[float], typer.Option(help="Hop between windows in seconds (default: the window).")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="Model checkpoint (clap: the .pt; m2d: checkpoint-30.pth).")] = None,
    tokenizer: Annotated[Optional[Path], typer.Option(help="clap: folder with the roberta-base tokenizer files.")] = None,
    m2d_portable: Annotated[Optional[Path], typer.Option(help="m2d: path of the authors' portable_m2d.py.")] = None,
    precision: Annotated[str, typer.Option(help="fp32, fp16 or bf16 (half precision on CUDA only).")] = "fp32",
    overwrite: Annotated[bool, typer.Option(help="Replace a store built from other items, or this embedder's features.")] = False,
) -> None:
    """Read a corpus, run the embedder once per clip and prompt, and write the Zarr store.

    An interrupted run picks up where it stopped when started again with the same arguments.
    """
    from embed.corpora import read_corpus
    from embed.runner import embed_corpus
    from embed.store import FeatureStore

    options = {
        "device": device,
        "batch_size": batch_size,
        "checkpoint": checkpoint,
        "tokenizer": tokenizer,
        "m2d_portable": m2d_portable,
        "precision": precision,
    }
    table = read_corpus(corpus, root, splits=split)
    store = FeatureStore.create(out_store, table, overwrite=overwrite)
    embed_corpus(
        store,
        embedder,
        options={k: v for k, v in options.items() if v is not None},
        window_s=window_s,
        hop_s=hop_s,
        workers=workers,
        overwrite=overwrite,
    )
    out.print(f"wrote {embedder} features for {len(table)} clips to {out_store}")


@app.command()
@user_errors
def info(
    store: Annotated[Optional[Path], typer.Argument(help="A clapmos Zarr store.")] = None,
    embedders: Annotated[bool, typer.Option("--embedders", help="List the registered embedders instead.")] = False,
) -> None:
    """Summarise a store: corpus, splits, counts, targets, embedders and their dimensions."""
    if embedders or store is None:
        from embed.backends import available_embedders

        for name, cls in available_embedders().items():
            out.print(f"{name:10s} {cls.sample_rate:>6d} Hz  audio {cls.audio_dim:>4d}-d  text {cls.text_dim:>4d}-d  {cls.description}")
        return
    from embed.store import FeatureStore

    out.print(FeatureStore.open(store).summary())


# --------------------------------------------------------------------------- evaluate stage
@app.command()
@user_errors
def evaluate(
    pred: Annotated[Path, typer.Option(help="Prediction file: answer.txt (or its zip), a XACLE CSV, or id,<target>... CSV.")],
    store: Annotated[Optional[Path], typer.Option(help="Store whose labels of --split are the truth.")] = None,
    split: Annotated[Optional[str], typer.Option(help="Split of --store to evaluate on, e.g. dev.")] = None,
    truth: Annotated[Optional[Path], typer.Option(help="Truth file instead of a store: MusicEval *_mos_list.txt or XACLE *_average.csv.")] = None,
    system_truth: Annotated[Optional[Path], typer.Option(help="Given true system means (MusicEval system_mos_phase1.csv).")] = None,
    format: Annotated[str, typer.Option(help="Prediction file format: auto, audiomos, xacle or csv.")] = "auto",
    out_dir: Annotated[Optional[Path], typer.Option(help="Report folder (default: <pred stem>_eval next to the file).")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save utterance- and system-level scatter plots.")] = True,
    check: Annotated[bool, typer.Option("--check", help="First require a complete, valid submission for the split (enough for an unlabelled one).")] = False,
) -> None:
    """Score a prediction file with the challenges' metrics (MSE, LCC, SRCC, KTAU per level and target).

    Clips present on one side only are left out with a warning. Prints a Markdown table; writes results.csv, results.json, predictions.csv and scatter plots.
    """
    import warnings

    from rich.markup import escape

    from evaluation.metrics import format_line, markdown_table
    from evaluation.report import default_out_dir, evaluate_file, write_outputs
    from evaluation.submissions import validate_submission
    from evaluation.truth import read_system_truth, read_truth_file, truth_from_store

    if (store is None) == (truth is None) or (store is not None and split is None):
        raise ClapmosError("give either --store with --split, or --truth")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            reference = truth_from_store(store, split) if store is not None else read_truth_file(truth)
            if system_truth is not None:
                reference = reference.with_system_means(read_system_truth(system_truth))
            if check:
                validate_submission(pred, reference.clips["id"], format)
                out.print(f"{pred} is a valid submission for the {len(reference.clips)} clips of {reference.source}", highlight=False)
                if not reference.labelled:
                    return
            report = evaluate_file(pred, reference, format)
        finally:
            for warning in caught:
                err.print(f"[yellow]warning:[/] {escape(str(warning.message))}", highlight=False, soft_wrap=True)
    out.print(markdown_table(report.results), markup=False, highlight=False, soft_wrap=True)
    out.print(format_line(report.results), markup=False, highlight=False, soft_wrap=True)
    written = write_outputs(report, out_dir or default_out_dir(pred), plots=plots)
    out.print(f"wrote {len(written)} files to {written[0].parent}", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
