"""clapmos command line: embed a corpus once, then fit, predict and evaluate in seconds.

    python cli.py make-demo demo/corpus
    python cli.py embed --corpus musiceval --root demo/corpus --embedder spectral --out demo/store.zarr
    python cli.py info demo/store.zarr

Run ``python cli.py COMMAND --help`` for the options of each command.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console
from rich.markup import escape

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
            err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
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
    engine: Annotated[Literal["local", "dask"], typer.Option(help="local: this process; dask: Dask workers (pip install 'clapmos[dask]').")] = "local",
    scheduler: Annotated[Optional[str], typer.Option(help="dask: address or scheduler file of a running Dask cluster (default: start a local one).")] = None,
    n_workers: Annotated[Optional[int], typer.Option(help="dask: worker processes of the local cluster, each with its own model (default 2).")] = None,
    frames: Annotated[bool, typer.Option("--frames", help="Also store every clip's frame tokens (clap, m2d, spectral), which the attn_mlp and xattn heads read. Adds them to a store embedded without.")] = False,
    frame_dtype: Annotated[str, typer.Option(help="With --frames: float16 (half the disk, the default) or float32 on disk.")] = "float16",
) -> None:
    """Read a corpus, run the embedder once per clip and prompt, and write the Zarr store.

    An interrupted run picks up where it stopped when started again with the same arguments,
    with either engine.
    """
    from embed.corpora import read_corpus
    from embed.runner import embed_corpus
    from embed.store import FeatureStore

    if frames:  # refuse before the store is touched
        from embed.backends import get_embedder_class
        from embed.frame_plan import require_frames
        from embed.frame_store import FRAME_DTYPES

        require_frames(get_embedder_class(embedder))
        if frame_dtype not in FRAME_DTYPES:
            raise ClapmosError(f"--frame-dtype must be one of {', '.join(FRAME_DTYPES)}, got {frame_dtype!r}")
    if engine == "dask":
        from embed.distributed import embed_corpus_dask

        run = functools.partial(embed_corpus_dask, scheduler=scheduler, n_workers=n_workers)
    elif scheduler is not None or n_workers is not None:
        raise ClapmosError("--scheduler and --n-workers are options of --engine dask")
    else:
        run = embed_corpus

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
    run(
        store,
        embedder,
        options={k: v for k, v in options.items() if v is not None},
        window_s=window_s,
        hop_s=hop_s,
        workers=workers,
        overwrite=overwrite,
        frames=frames,
        frame_dtype=frame_dtype,
    )
    out.print(f"wrote {embedder} features{' and frame tokens' if frames else ''} for {len(table)} clips to {out_store}")


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
            frames = f"frames {cls.frame_dim:>4d}-d at {cls.frame_rate:g}/s" if cls.gives_frames() else "no frames"
            out.print(f"{name:10s} {cls.sample_rate:>6d} Hz  audio {cls.audio_dim:>4d}-d  text {cls.text_dim:>4d}-d  {frames:22s}  {cls.description}")
        return
    from embed.store import FeatureStore

    out.print(FeatureStore.open(store).summary())


# --------------------------------------------------------------------------- evaluate stage
# --------------------------------------------------------------------------- fit stage
def _split_list(value: Optional[str]) -> Optional[list[str]]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _parse_params(pairs: Optional[list[str]]) -> dict:
    """``key=value`` pairs; values are read as JSON when they parse (numbers, lists, true/false/null)."""
    import json

    params = {}
    for pair in pairs or []:
        key, eq, raw = pair.partition("=")
        if not eq or not key:
            raise ClapmosError(f"--param {pair!r}: expected key=value, e.g. --param max_epochs=50 or --param spo_mlp.margin=0.2")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[key.strip()] = tuple(value) if isinstance(value, list) else value
    return params


@contextlib.contextmanager
def reported_warnings():
    """Show warnings raised inside as one yellow line each (no source lines, no traceback)."""
    import warnings

    from rich.markup import escape

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught):
                err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _print_table(title: str, text: str) -> None:
    out.print(f"\n[bold]{title}[/]")
    out.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command()
@user_errors
def fit(
    store: Annotated[Path, typer.Option(help="Feature store made by `embed`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run folder to write (model, config, metrics, plots).")],
    embedder: Annotated[str, typer.Option(help="Embedder(s) whose features to use, comma-separated (see `info STORE`); several are used side by side, e.g. m2d,clap.")] = "clap",
    head: Annotated[str, typer.Option(help="Head(s), comma-separated: ridge, lgbm, mlp, spo_mlp, cosine. Several are stacked with ridge.")] = "spo_mlp",
    features: Annotated[Optional[str], typer.Option(help="Feature blocks, comma-separated: audio, text, product, absdiff, cosine (default: audio for overall, audio,text,cosine otherwise).")] = None,
    target: Annotated[Optional[list[str]], typer.Option(help="Target(s) to fit (default: all the store's).")] = None,
    train_split: Annotated[str, typer.Option(help="Split(s) to train on, comma-separated.")] = "train",
    eval_split: Annotated[Optional[str], typer.Option(help="Held-out split to predict and score after fitting, e.g. dev.")] = None,
    cv: Annotated[int, typer.Option(help="Folds of the cross-validated ensemble.")] = 5,
    group: Annotated[str, typer.Option(help="Keep a system or prompt on one side of every fold: none, system or prompt.")] = "none",
    seeds: Annotated[int, typer.Option(help="Repeat the folds with this many seeds (more fold models).")] = 1,
    screening_tau: Annotated[Optional[float], typer.Option(help="SPO rating screening: keep a rating only if another rating of the clip lies within this distance.")] = None,
    param: Annotated[Optional[list[str]], typer.Option(help="Head setting key=value (all heads) or head.key=value, e.g. spo_mlp.max_epochs=50. Repeatable.")] = None,
    stack: Annotated[bool, typer.Option("--stack/--average", help="Combine several heads with a ridge on their out-of-fold predictions, or average them.")] = True,
    seed: Annotated[int, typer.Option(help="Random seed of folds and heads.")] = 0,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save scatter plots (and, for frame heads, where they listen in the worst-predicted clips).")] = True,
    device: Annotated[Optional[str], typer.Option(help="Where torch heads train: cpu, cuda, cuda:N or auto (default: each head's own; the frame heads use the CPU).")] = None,
) -> None:
    """Fit cross-validated heads on cached features; print out-of-fold (and held-out) metrics; save the run.

    The frame heads (attn_mlp, xattn) need the embedder's frame tokens in the store (`embed --frames`).
    """
    from embed.store import FeatureStore
    from evaluation.fit_report import heads_markdown, heads_table, oof_report, write_fit_report
    from evaluation.metrics import markdown_table
    from evaluation.report import evaluate_predictions
    from evaluation.truth import truth_from_store
    from heads.runs import RunConfig, fit_run, save_run

    config = RunConfig(
        embedders=_split_list(embedder) or [],
        heads=_split_list(head) or [],
        targets=list(target) if target else None,
        features=_split_list(features),
        train_split=_split_list(train_split) or ["train"],
        eval_split=_split_list(eval_split),
        cv=cv,
        group=group,
        seeds=seeds,
        stack=stack,
        screening_tau=screening_tau,
        params=_parse_params(param),
        random_state=seed,
        device=device,
    )
    features_store = FeatureStore.open(store)
    with reported_warnings():
        with err.status(f"fitting {', '.join(config.heads)} with {cv}-fold cross-validation..."):
            run = fit_run(features_store, config)
        save_run(run, out_dir)
        held_out = None
        if config.eval_split:
            predictions = run.predict(features_store, config.eval_split)
            truth = truth_from_store(store, config.eval_split)
            if truth.labelled:
                held_out = evaluate_predictions(predictions[["id", *run.targets]], truth, f"{'+'.join(config.eval_split)} predictions")
            predictions.to_csv(out_dir / "eval_predictions.csv", index=False)
        write_fit_report(run.oof, run.targets, out_dir, held_out, plots=plots)
        if plots and run.reads_frames:
            eval_clips = None if held_out is None else held_out.clips.rename(columns=lambda c: c.removesuffix("_true"))
            _attention_plots(run, features_store, out_dir, eval_clips, config)
    _print_table(f"cross-validated ({run.models[run.targets[0]].n_splits_}-fold, out-of-fold) on {'+'.join(config.train_split)}",
                 markdown_table(oof_report(run.oof, run.targets).results))
    if len(config.heads) > 1:
        _print_table("per head (out-of-fold)", heads_markdown(heads_table(run.oof, run.targets)))
    if held_out is not None:
        _print_table(f"held-out split {'+'.join(config.eval_split)}", markdown_table(held_out.results))
    out.print(f"\nsaved the run to {out_dir}", highlight=False)


def _attention_plots(run, store, out_dir: Path, eval_clips, config) -> None:
    """``eval/attention_<target>.png`` (or ``cv/`` from the out-of-fold predictions): the worst clips' attention."""
    from evaluation.attention_plots import attention_plot, worst_clips

    folder, split, clips = (out_dir / "eval", config.eval_split, eval_clips) if eval_clips is not None else (out_dir / "cv", config.train_split, run.oof)
    for target in run.targets:
        worst = worst_clips(clips, target)
        if len(worst):
            table = run.attention(store, split, ids=worst["id"])
            attention_plot(table[table["target"] == target], worst, target, folder / f"attention_{target}.png")


@app.command()
@user_errors
def predict(
    model: Annotated[Path, typer.Option(help="Run folder written by `fit --out`.")],
    store: Annotated[Path, typer.Option(help="Feature store with the items to predict (same embedder settings).")],
    out_file: Annotated[Path, typer.Option("--out", help="File to write: answer.txt (or .zip), a XACLE .csv, or a plain .csv.")],
    split: Annotated[Optional[str], typer.Option(help="Split(s) to predict, comma-separated (default: every item).")] = None,
    format: Annotated[str, typer.Option(help="audiomos (answer.txt), xacle (wav_file_name,pred_score) or csv (id,<targets>,<target>_std).")] = "csv",
) -> None:
    """Predict scores for a store's items with a fitted run and write a validated submission file."""
    from embed.store import FeatureStore
    from evaluation.submissions import write_submission
    from heads.runs import load_run

    run = load_run(model)
    features_store = FeatureStore.open(store)
    splits = _split_list(split)
    predictions = run.predict(features_store, splits)
    targets = [c for c in predictions.columns if c not in ("id", "system")] if format == "csv" else None
    write_submission(predictions, out_file, format, expected_ids=features_store.items(splits)["id"], targets=targets)
    out.print(f"wrote {len(predictions)} predictions of {', '.join(run.targets)} to {out_file} ({format})", highlight=False)


@app.command("score-zero-shot")
@user_errors
def score_zero_shot(
    store: Annotated[Path, typer.Option(help="Feature store made by `embed`.")],
    embedder: Annotated[str, typer.Option(help="Embedder whose audio and text embeddings are compared.")] = "clap",
    split: Annotated[Optional[str], typer.Option(help="Split(s), comma-separated (default: every item).")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="CSV to write: id,cosine.")] = None,
) -> None:
    """The training-free CLAPScore: the cosine of each clip's audio and text embeddings.

    Prints its correlations with every labelled target (only the ranking is meaningful: the cosine is not on the score scale).
    """
    import pandas as pd

    from embed.store import FeatureStore
    from evaluation.metrics import markdown_table, score
    from heads.features import paired_cosine

    features_store = FeatureStore.open(store)
    splits = _split_list(split)
    items = features_store.items(splits)
    cosine = paired_cosine(features_store.paired(embedder, splits), features_store.embedder_attrs(embedder).get("audio_dim"))
    frame = pd.DataFrame({"id": items["id"].to_numpy(), "cosine": cosine})
    if out_file is not None:
        frame.to_csv(out_file, index=False)
        out.print(f"wrote {len(frame)} cosines to {out_file}", highlight=False)
    labels = features_store.labels(splits)
    labelled = [t for t in labels if labels[t].notna().any()]
    if labelled:
        systems = items["system"].to_numpy() if (items["system"] != "").all() else None
        with reported_warnings():
            results = score(labels[labelled].to_numpy(), cosine[:, None].repeat(len(labelled), 1), systems=systems, targets=labelled)
        _print_table("zero-shot cosine against the labels (MSE is not meaningful here)", markdown_table(results))


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
    from evaluation.metrics import format_line, markdown_table
    from evaluation.report import default_out_dir, evaluate_file, write_outputs
    from evaluation.submissions import validate_submission
    from evaluation.truth import read_system_truth, read_truth_file, truth_from_store

    if (store is None) == (truth is None) or (store is not None and split is None):
        raise ClapmosError("give either --store with --split, or --truth")
    with reported_warnings():
        reference = truth_from_store(store, split) if store is not None else read_truth_file(truth)
        if system_truth is not None:
            reference = reference.with_system_means(read_system_truth(system_truth))
        if check:
            validate_submission(pred, reference.clips["id"], format)
            out.print(f"{pred} is a valid submission for the {len(reference.clips)} clips of {reference.source}", highlight=False)
            if not reference.labelled:
                return
        report = evaluate_file(pred, reference, format)
    out.print(markdown_table(report.results), markup=False, highlight=False, soft_wrap=True)
    out.print(format_line(report.results), markup=False, highlight=False, soft_wrap=True)
    written = write_outputs(report, out_dir or default_out_dir(pred), plots=plots)
    out.print(f"wrote {len(written)} files to {written[0].parent}", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
