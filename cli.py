"""clapmos command line: embed a corpus once, then fit, predict and evaluate in seconds.

\b
    clapmos make-demo demo/corpus
    clapmos embed --corpus musiceval --root demo/corpus --embedder spectral --out demo/store.zarr
    clapmos info demo/store.zarr

Run `clapmos COMMAND --help` for the options of a command (`python cli.py ...` is the same).

Bad input stops with one message and exit status 2, and nothing is written.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console
from rich.markup import escape


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

from clapmos.embed.devices import PRECISION_NAMES, is_device_name
from clapmos.embed.errors import ClapmosError
from clapmos.embed.threads import DEFAULT_THREADS
from clapmos.heads.registry import HEAD_NAMES

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no markup to escape, nothing swallowed, readable when piped
    help=__doc__,
)
# soft_wrap: lines are never broken by rich (a terminal wraps them; a file gets them whole)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
CLAPMOS_LOGGERS = ("clapmos", "__main__")  # what -v shows at debug level


def user_errors(command):
    """Report :class:`ClapmosError` as one readable message and exit status 2 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ClapmosError as error:
            err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show clapmos's debug messages (not its libraries').")] = False) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in CLAPMOS_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.NOTSET)


# --------------------------------------------------------------------------- option checks
def _seconds(value: Optional[float]) -> Optional[float]:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise typer.BadParameter(f"{value}: must be a finite number of seconds, more than 0 seconds.")
    return value


def _device(value: Optional[str]) -> Optional[str]:
    if value is not None and not is_device_name(value):
        raise typer.BadParameter(f"{value!r}: choose auto, cpu, cuda or cuda:N.")
    return value


def _split_list(value: Optional[str]) -> Optional[list[str]]:
    """Comma-separated names; ``None`` when not given, ``[]`` when given without one (``","``)."""
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _score_ranges(values: Optional[list[str]]) -> dict[str, tuple[float, float]]:
    """``--score-range [COLUMN=]LOW,HIGH`` (repeatable) as ``{column or "*": (low, high)}``."""
    ranges = {}
    for value in values or []:
        column, eq, bounds = value.rpartition("=")
        try:
            low, high = (float(b) for b in bounds.split(","))
        except ValueError:
            low, high = 1.0, 0.0
        if not low < high:
            raise typer.BadParameter(f"{value!r}: expected LOW,HIGH or COLUMN=LOW,HIGH with LOW < HIGH, e.g. mos=1,5.", param_hint="'--score-range'")
        ranges[column.strip() if eq else "*"] = (low, high)
    return ranges


def _open_store(path: Path, option: str = "--store"):
    """The store at ``path``; errors name the option it came from."""
    from clapmos.embed.files import require_folder

    require_folder(path, "a clapmos store", f"Create one with `clapmos embed ... --out {path}`.", flag=option)  # before zarr is imported
    from clapmos.embed.store import FeatureStore

    try:
        return FeatureStore.open(path)
    except ClapmosError as error:
        raise ClapmosError(f"{option} {error}") from None


def _known_splits(store, splits: Optional[list[str]], option: str = "--split") -> Optional[list[str]]:
    if splits is not None and not splits:
        raise ClapmosError(f"{option}: name at least one split; {store.path} has {', '.join(store.splits)}.")
    unknown = [s for s in splits or [] if s not in store.splits]
    if unknown:
        raise ClapmosError(f"{option} {','.join(splits)}: {store.path} has no split {', '.join(unknown)}; its splits are {', '.join(store.splits)}.")
    return splits


def _known_embedder(store, embedder: str) -> str:
    """``--embedder`` (one name, or several comma-separated), each with features in ``store``."""
    missing = [name for name in _split_list(embedder) or [embedder] if name not in store.embedders]
    if missing:
        raise ClapmosError(
            f"--embedder {embedder}: {store.path} has no features of {', '.join(missing)} (it has: {', '.join(store.embedders) or 'none'}). "
            f"Run `clapmos embed --embedder {missing[0]} --out {store.path} ...` first."
        )
    return embedder


def _submission_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise typer.BadParameter(f"{value!r}: choose one of {', '.join(allowed)}.", param_hint="'--format'")
    return value


# --------------------------------------------------------------------------- embed stage
@app.command("make-demo")
@user_errors
def make_demo(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the demo corpus into (MusicEval layout): new, empty, or an earlier demo corpus.")],
    clips: Annotated[int, typer.Option(min=1, metavar="N", help="Number of clips (at least 24: 3 per system).")] = 240,
    seed: Annotated[int, typer.Option(min=0, metavar="N", help="Random seed.")] = 0,
) -> None:
    """Write a small synthetic corpus in the MusicEval layout (test and demo data, not music)."""
    from clapmos.embed.corpora.demo import make_demo_corpus

    summary = make_demo_corpus(out_dir, n_clips=clips, seed=seed)
    out.print(summary, highlight=False)


@app.command()
@user_errors
def embed(
    corpus: Annotated[str, typer.Option(help="Corpus layout: musiceval, musiceval-eval, xacle or manifest.")],
    root: Annotated[Path, typer.Option(help="Release folder (or the manifest file for 'manifest').")],
    out_store: Annotated[Path, typer.Option("--out", help="Zarr store to create or complete (a new name, or a store clapmos wrote).")],
    embedder: Annotated[str, typer.Option(help="Embedder name (see `clapmos info --embedders`), or your own class as path/to/file.py:ClassName.")] = "clap",
    split: Annotated[Optional[list[str]], typer.Option(metavar="SPLIT", help="Split(s) to embed; default: every split. Repeatable.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, metavar="N", help="Audio windows per forward pass.")] = 8,
    device: Annotated[str, typer.Option(callback=_device, help="auto, cpu, cuda or cuda:N.")] = "auto",
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="Threads that read and resample audio ahead of the model.")] = 2,
    threads: Annotated[int, typer.Option(min=1, metavar="N", help="CPU threads of the model (torch, BLAS). 1 keeps a shared machine responsive; give more on a machine of your own.")] = DEFAULT_THREADS,
    window_s: Annotated[Optional[float], typer.Option(callback=_seconds, metavar="SECONDS", help="Window length in seconds (default: the embedder's).")] = None,
    hop_s: Annotated[Optional[float], typer.Option(callback=_seconds, metavar="SECONDS", help="Hop between windows in seconds (default: the window).")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="Model checkpoint (clap: the .pt; m2d: checkpoint-30.pth).")] = None,
    tokenizer: Annotated[Optional[Path], typer.Option(help="clap: folder with the roberta-base tokenizer files.")] = None,
    m2d_portable: Annotated[Optional[Path], typer.Option(help="m2d: path of the authors' portable_m2d.py.")] = None,
    model_path: Annotated[Optional[Path], typer.Option(help="hf-clap, hf-audio (and plugins): model folder in Hugging Face format (`hf download REPO --local-dir FOLDER`).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Name of the features in the store (default: the embedder's), e.g. whisper-base: two models of one embedder side by side.")] = None,
    layer: Annotated[Optional[str], typer.Option(metavar="N|mean", help="hf-audio: hidden layer to time-average: N (0 = embeddings, -1 = last, the default) or mean (all layers).")] = None,
    precision: Annotated[Literal[PRECISION_NAMES], typer.Option(help="Half precision (fp16, bf16) applies on CUDA only.")] = "fp32",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Re-embed this embedder's features even if the store has them (other settings, another checkpoint). The new features are built beside the old ones, which stay usable until the new ones are complete; other embedders are not touched.")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="The corpus's items changed (clips added or removed): build a new store beside the old one, keeping the features of unchanged clips, and replace the old store once this embedder is done.")] = False,
    score_range: Annotated[Optional[list[str]], typer.Option(metavar="[COLUMN=]LOW,HIGH", help="manifest: the allowed range of a score column (all columns without COLUMN=); scores outside it are refused. Without it, implausible scores get a warning. Repeatable.")] = None,
    engine: Annotated[Literal["local", "dask"], typer.Option(help="local: this process; dask: Dask workers (pip install 'clapmos[dask]').")] = "local",
    scheduler: Annotated[Optional[str], typer.Option(help="dask: address or scheduler file of a running Dask cluster (default: start a local one).")] = None,
    n_workers: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="dask: worker processes of the local cluster, each with its own model (default 2).")] = None,
    frames: Annotated[bool, typer.Option("--frames", help="Also store every clip's frame tokens (clap, m2d, spectral), which the attn_mlp and xattn heads read. Adds them to a store embedded without.")] = False,
    frame_dtype: Annotated[Literal["float16", "float32"], typer.Option(help="With --frames: float16 (half the disk, the default) or float32 on disk.")] = "float16",
) -> None:
    """Read a corpus, run the embedder once per clip and prompt, and write the Zarr store.

    An interrupted run picks up where it stopped when started again with the same arguments, with either engine.
    """
    ranges = _score_ranges(score_range)
    if tokenizer is not None:
        from clapmos.embed.files import require_folder

        require_folder(tokenizer, "a folder with the roberta-base tokenizer files", flag="--tokenizer")
    if engine == "dask":
        from clapmos.embed.engines.distributed import embed_corpus_dask

        run = functools.partial(embed_corpus_dask, scheduler=scheduler, n_workers=n_workers)
    elif scheduler is not None or n_workers is not None:
        raise ClapmosError("--scheduler and --n-workers are options of --engine dask")
    else:
        from clapmos.embed.engines.runner import embed_corpus as run
    from clapmos.embed.backends import create_embedder, get_embedder_class
    from clapmos.embed.backends.contract import load_embedder
    from clapmos.embed.corpora import read_corpus
    from clapmos.embed.store.replacement import check_destination
    from clapmos.embed.engines.runner import resolve_windows
    from clapmos.embed.store import FeatureStore

    embedder_class = get_embedder_class(embedder)  # an unknown name, or a missing or broken plugin file, fails before the corpus is read
    if frames:
        from clapmos.embed.engines.frame_plan import require_frames

        require_frames(embedder_class)
    options = {
        "device": device,
        "batch_size": batch_size,
        "checkpoint": checkpoint,
        "tokenizer": tokenizer,
        "m2d_portable": m2d_portable,
        "model_path": model_path,
        "layer": layer,
        "name": name,
        "precision": precision,
    }
    options = {k: v for k, v in options.items() if v is not None}
    accepted = embedder_class.accepted_options
    ignored = [key for key in ("checkpoint", "tokenizer", "m2d_portable", "model_path", "layer") if key in options and accepted is not None and key not in accepted]
    if ignored:
        flags = ", ".join("--" + key.replace("_", "-") for key in ignored)
        raise ClapmosError(f"{flags}: the {embedder_class.name} embedder does not read {'it' if len(ignored) == 1 else 'them'}; leave {flags} out.")
    table = read_corpus(corpus, root, splits=split, score_ranges=ranges)
    check_destination(out_store)  # before a model is loaded for nothing
    model = embedder
    if engine == "local":  # a bad checkpoint is refused before the store is written (Dask workers load their own)
        model = create_embedder(embedder, **options)
        load_embedder(model)
        resolve_windows(model, window_s, hop_s)
    store = FeatureStore.create(out_store, table, rebuild=rebuild)
    run(
        store,
        model,
        options=options,
        window_s=window_s,
        hop_s=hop_s,
        workers=workers,
        overwrite=overwrite,
        threads=threads,
        frames=frames,
        frame_dtype=frame_dtype,
    )
    store.commit()
    what = f"features{' and frame tokens' if frames else ''}"
    out.print(f"wrote {name or get_embedder_class(embedder).name} {what} for {len(table)} clips to {out_store}", highlight=False)


@app.command()
@user_errors
def info(
    store: Annotated[Optional[Path], typer.Argument(help="A clapmos Zarr store.")] = None,
    embedders: Annotated[bool, typer.Option("--embedders", help="List the registered embedders instead.")] = False,
) -> None:
    """Summarise a store: corpus, splits, counts, targets, embedders and their dimensions."""
    if embedders or store is None:
        from clapmos.embed.backends import available_embedders

        out.print(f"{'name':10s} {'rate':>9s}  {'audio':>6s}  {'text':>6s}  {'frame tokens':>15s}  description", highlight=False)
        for name, cls in available_embedders().items():
            audio = f"{cls.audio_dim}-d" if cls.audio_dim else "hidden"  # hf-audio: the loaded encoder's hidden size
            text = f"{cls.text_dim}-d" if cls.text_dim else "none"
            frames = f"{cls.frame_dim}-d at {cls.frame_rate:g}/s" if cls.gives_frames() else "none"
            out.print(f"{name:10s} {cls.sample_rate:>6d} Hz  {audio:>6s}  {text:>6s}  {frames:>15s}  {cls.description}", highlight=False)
        return
    out.print(_open_store(store, "STORE").summary(), highlight=False)


# --------------------------------------------------------------------------- fit stage
def _parse_params(pairs: Optional[list[str]]) -> dict:
    """``key=value`` pairs; values are read as JSON when they parse (numbers, lists, true/false/null)."""
    import json

    params = {}
    for pair in pairs or []:
        key, eq, raw = pair.partition("=")
        if not eq or not key:
            raise ClapmosError(f"--param {pair!r}: expected key=value, e.g. --param max_epochs=50 or --param spo_mlp.margin=0.2")
        try:
            value = json.loads(raw, parse_constant=_not_a_number)
        except json.JSONDecodeError:
            value = raw
        except ValueError as error:
            raise ClapmosError(f"--param {pair}: {error}") from None
        params[key.strip()] = tuple(value) if isinstance(value, list) else value
    return params


def _not_a_number(name: str):
    raise ValueError(f"{name} is not a setting a head can use; give a finite number")


@contextlib.contextmanager
def reported_warnings():
    """Show warnings raised inside as one yellow line each (no source lines, no traceback)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught):
                err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


def _print_table(title: str, text: str) -> None:
    out.print(f"\n[bold]{escape(title)}[/]", highlight=False)
    out.print(text, markup=False, highlight=False)


def _parse_features(value: Optional[str]):
    """``audio,text`` (every target) or ``overall=audio;textual=audio,text`` (per target)."""
    if not value or "=" not in value:
        return _split_list(value)
    features = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        target, eq, blocks = part.partition("=")
        if not eq or not target.strip() or not _split_list(blocks):
            raise ClapmosError(f"--features {value!r}: expected TARGET=BLOCKS;TARGET=BLOCKS, e.g. overall=audio;textual=audio,text")
        features[target.strip()] = _split_list(blocks)
    return features


def _parse_clip(value: Optional[str]) -> Optional[list[float]]:
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value.split(","))
    except ValueError:
        raise ClapmosError(f"--clip {value!r}: expected LOW,HIGH, e.g. --clip 0,10") from None
    if not low < high:
        raise ClapmosError(f"--clip {value!r}: LOW must be below HIGH, e.g. --clip 0,10")
    return [low, high]


# fit's options and the RunConfig fields they set (what a recipe's settings are named after)
_FIT_FIELDS = {
    "embedder": "embedders", "head": "heads", "features": "features", "target": "targets", "train_split": "train_split",
    "eval_split": "eval_split", "cv": "cv", "group": "group", "seeds": "seeds", "screening_tau": "screening_tau",
    "param": "params", "stack": "stack", "seed": "random_state", "stack_method": "stack_method", "clip": "clip",
}


def _explicit_fields(ctx: typer.Context) -> set[str]:
    """The RunConfig fields whose options were typed (not left at their defaults)."""
    sources = {option: ctx.get_parameter_source(option) for option in _FIT_FIELDS}  # typer's own copy of click's enum
    return {field for option, field in _FIT_FIELDS.items() if sources[option] is not None and sources[option].name not in ("DEFAULT", "DEFAULT_MAP")}


@app.command()
@user_errors
def recipes(
    name: Annotated[Optional[str], typer.Argument(help="A recipe to show in full: its settings as options, and what it does instead of the published system.")] = None,
) -> None:
    """List the recipes: published systems as `fit --recipe NAME` settings, with the figure each was published with."""
    from clapmos.heads.runs.recipes import describe, recipes_table

    text = describe(name) if name else recipes_table() + "\n\nShow one in full: clapmos recipes NAME"
    out.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command()
@user_errors
def fit(
    ctx: typer.Context,
    store: Annotated[Path, typer.Option(help="Feature store made by `clapmos embed`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run folder to write (model, config, metrics, plots). An earlier run there is replaced whole once the new one is complete; any other folder is refused.")],
    embedder: Annotated[str, typer.Option(help="Embedder(s) whose features to use, comma-separated (see `clapmos info STORE`); several are used side by side, e.g. m2d,clap.")] = "clap",
    head: Annotated[str, typer.Option(help=f"Head(s), comma-separated: {', '.join(HEAD_NAMES)} (attn_mlp and xattn read frame tokens: embed --frames); head:tag for a second member of one head (svr:a,svr:b). Several are stacked with ridge.")] = "spo_mlp",
    features: Annotated[Optional[str], typer.Option(help="Feature blocks, comma-separated: audio, text, product, absdiff, cosine, angular, l1, l2 (default: audio for overall, audio,text,cosine otherwise); per target: overall=audio;textual=audio,text.")] = None,
    target: Annotated[Optional[list[str]], typer.Option(metavar="TARGET", help="Target(s) to fit (default: all the store's). Repeatable.")] = None,
    train_split: Annotated[str, typer.Option(help="Split(s) to train on, comma-separated.")] = "train",
    eval_split: Annotated[Optional[str], typer.Option(help="Held-out split(s) to predict and score after fitting, e.g. dev; not one of the training splits.")] = None,
    cv: Annotated[int, typer.Option(min=2, metavar="K", help="Folds of the cross-validated ensemble.")] = 5,
    group: Annotated[str, typer.Option(help="Keep a system or prompt on one side of every fold: none, system or prompt.")] = "none",
    seeds: Annotated[int, typer.Option(min=1, metavar="N", help="Repeat the folds with this many seeds (more fold models).")] = 1,
    screening_tau: Annotated[Optional[float], typer.Option(min=0, metavar="DISTANCE", help="SPO rating screening: keep a rating only if another rating of the clip lies within this distance.")] = None,
    param: Annotated[Optional[list[str]], typer.Option(metavar="KEY=VALUE", help="Head setting key=value (all heads) or head.key=value, e.g. spo_mlp.max_epochs=50; checked before any work. Repeatable.")] = None,
    stack: Annotated[bool, typer.Option("--stack/--average", help="Combine several heads with a ridge on their out-of-fold predictions, or average them.")] = True,
    seed: Annotated[int, typer.Option(min=0, metavar="N", help="Random seed of folds and heads.")] = 0,
    threads: Annotated[int, typer.Option(min=1, metavar="N", help="CPU threads for fitting (torch, LightGBM, BLAS). 1 keeps fits from stalling on a busy machine; give more on a machine of your own.")] = DEFAULT_THREADS,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save scatter plots (and, for frame heads, where they listen in the worst-predicted clips).")] = True,
    recipe: Annotated[Optional[str], typer.Option(help="Start from a published system's settings (list: `clapmos recipes`); the options you give override them.")] = None,
    stack_method: Annotated[str, typer.Option(help="How several heads are combined: ridge (with intercept) or nnls (non-negative weights fitted to the out-of-fold predictions).")] = "ridge",
    clip: Annotated[Optional[str], typer.Option(help="Clip the ensemble's predictions to LOW,HIGH, e.g. 0,10.")] = None,
    device: Annotated[Optional[str], typer.Option(callback=_device, help="Where the torch heads train: cpu, cuda, cuda:N or auto (default: each head's own setting, the CPU).")] = None,
    pretrain_store: Annotated[Optional[Path], typer.Option(help="Store of unrated (prompt, audio) pairs embedded like --store: the torch heads first learn their pseudo-labels (the CLAP audio-text cosine), then fine-tune on the ratings. Off by default.")] = None,
    pretrain_embedder: Annotated[Optional[str], typer.Option(help="Embedder whose audio-text cosine is the pseudo-label (default: the first --embedder with text).")] = None,
) -> None:
    """Fit cross-validated heads on cached features; print out-of-fold (and held-out) metrics; save the run.

    The frame heads (attn_mlp, xattn) need the embedder's frame tokens in the store (`embed --frames`).
    """
    features_store = _open_store(store)  # the quick checks first: no heavy import before them
    from clapmos.heads.runs.folder import check_run_destination

    check_run_destination(out_dir)
    values = dict(
        embedders=_split_list(embedder) or [],
        heads=_split_list(head) or [],
        targets=list(target) if target else None,
        features=_parse_features(features),
        train_split=_split_list(train_split),
        eval_split=_split_list(eval_split),
        cv=cv,
        group=group,
        seeds=seeds,
        stack=stack,
        screening_tau=screening_tau,
        params=_parse_params(param),
        random_state=seed,
        stack_method=stack_method,
        clip=_parse_clip(clip),
        device=device,
        pretrain_store=None if pretrain_store is None else str(_open_store(pretrain_store, "--pretrain-store").path),
        pretrain_embedder=pretrain_embedder,
    )
    if recipe is not None:
        from clapmos.heads.runs.recipes import apply_recipe

        values = apply_recipe(recipe, values, _explicit_fields(ctx))
    _known_embedder(features_store, ",".join(values["embedders"]))
    _known_splits(features_store, values["train_split"], "--train-split")
    _known_splits(features_store, values["eval_split"], "--eval-split")

    from clapmos.embed.threads import limit_threads
    from clapmos.evaluation.fit_report import heads_markdown
    from clapmos.evaluation.metrics import markdown_table
    from clapmos.evaluation.pipeline import fit_and_report
    from clapmos.heads.registry import member_head
    from clapmos.heads.runs.run import RunConfig

    if any(member_head(h) == "lgbm" for h in values["heads"]) and not any(k.split(".")[-1] == "n_jobs" for k in values["params"]):
        values["params"] = {**values["params"], "lgbm.n_jobs": threads}
    config = RunConfig(**values)
    config.check(features_store)  # every option and model parameter, before any work
    with reported_warnings(), limit_threads(threads):
        with err.status(f"fitting {', '.join(config.heads)} with {config.cv}-fold cross-validation..."):
            outcome = fit_and_report(features_store, config, out_dir, plots=plots)
    run = outcome.run
    _print_table(f"cross-validated ({run.models[run.targets[0]].n_splits_}-fold, out-of-fold) on {'+'.join(config.train_split)}",
                 markdown_table(outcome.cv.results))
    if outcome.heads is not None:
        _print_table("per head (out-of-fold)", heads_markdown(outcome.heads))
    if outcome.held_out is not None:
        _print_table(f"held-out split {'+'.join(config.eval_split)}", markdown_table(outcome.held_out.results))
    out.print(f"\nsaved the run to {out_dir}", highlight=False)


@app.command()
@user_errors
def predict(
    model: Annotated[Path, typer.Option(help="Run folder written by `clapmos fit --out`.")],
    store: Annotated[Path, typer.Option(help="Feature store with the items to predict (same embedder settings).")],
    out_file: Annotated[Path, typer.Option("--out", help="File to write: answer.txt (or .zip), a XACLE .csv, or a plain .csv. An existing prediction file is replaced; any other file is refused.")],
    split: Annotated[Optional[str], typer.Option(help="Split(s) to predict, comma-separated (default: every item).")] = None,
    format: Annotated[str, typer.Option(help="audiomos (answer.txt), xacle (wav_file_name,pred_score) or csv (id,<targets>,<target>_std).")] = "csv",
) -> None:
    """Predict scores for a store's items with a fitted run and write a validated submission file."""
    from clapmos.embed.files import check_output_file
    from clapmos.evaluation.submissions import FORMATS, is_prediction_file

    _submission_format(format, tuple(FORMATS))
    check_output_file(out_file, "--out", is_prediction_file)
    features_store = _open_store(store)
    splits = _known_splits(features_store, _split_list(split))
    from clapmos.evaluation.pipeline import predict_to_file
    from clapmos.heads.runs.run import load_run

    try:
        run = load_run(model)
    except ClapmosError as error:
        raise ClapmosError(f"--model {error}") from None
    predictions = predict_to_file(run, features_store, out_file, split=splits, format=format)
    out.print(f"wrote {len(predictions)} predictions of {', '.join(run.targets)} to {out_file} ({format})", highlight=False)


@app.command("score-zero-shot")
@user_errors
def score_zero_shot(
    store: Annotated[Path, typer.Option(help="Feature store made by `clapmos embed`.")],
    embedder: Annotated[str, typer.Option(help="Embedder whose audio and text embeddings are compared.")] = "clap",
    split: Annotated[Optional[str], typer.Option(help="Split(s), comma-separated (default: every item).")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="CSV to write: id,cosine (an existing one is replaced; any other file is refused).")] = None,
) -> None:
    """The training-free CLAPScore: the cosine of each clip's audio and text embeddings.

    Prints its correlations with every labelled target (only the ranking is meaningful: the cosine is not on the score scale).
    """
    from clapmos.embed.files import check_output_file

    if out_file is not None:
        check_output_file(out_file, "--out", _is_cosine_table)
    features_store = _open_store(store)
    _known_embedder(features_store, embedder)
    splits = _known_splits(features_store, _split_list(split))
    import pandas as pd

    from clapmos.evaluation.metrics import markdown_table, score
    from clapmos.heads.inputs.features import paired_cosine

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


def _is_cosine_table(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as stream:
        return stream.readline().strip() == "id,cosine"


@app.command()
@user_errors
def evaluate(
    pred: Annotated[Path, typer.Option(help="Prediction file: answer.txt (or its zip), a XACLE CSV, or id,<target>... CSV.")],
    store: Annotated[Optional[Path], typer.Option(help="Store whose labels of --split are the truth.")] = None,
    split: Annotated[Optional[str], typer.Option(help="Split(s) of --store to evaluate on, comma-separated, e.g. dev.")] = None,
    truth: Annotated[Optional[Path], typer.Option(help="Truth file instead of a store: MusicEval *_mos_list.txt or XACLE *_average.csv.")] = None,
    system_truth: Annotated[Optional[Path], typer.Option(help="Given true system means (MusicEval system_mos_phase1.csv).")] = None,
    format: Annotated[str, typer.Option(help="Prediction file format: auto, audiomos, xacle or csv.")] = "auto",
    out_dir: Annotated[Optional[Path], typer.Option(help="Report folder (default: <pred stem>_eval next to the file); an earlier report there is replaced, any other folder refused.")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save utterance- and system-level scatter plots.")] = True,
    check: Annotated[bool, typer.Option("--check", help="First require a complete, valid submission for the split (enough for an unlabelled one).")] = False,
) -> None:
    """Score a prediction file with the challenges' metrics (MSE, LCC, SRCC, KTAU per level and target).

    Clips present on one side only are left out with a warning; predictions that are not finite are refused. Prints a Markdown table; writes results.csv, results.json, predictions.csv and scatter plots.
    """
    from clapmos.embed.files import check_output_folder, require_file

    for option, path in (("--pred", pred), ("--truth", truth), ("--system-truth", system_truth)):
        if path is not None:
            require_file(path, "an existing file", flag=option)
    from clapmos.evaluation.metrics import format_line, markdown_table
    from clapmos.evaluation.report import default_out_dir, evaluate_file, is_report_folder, write_outputs
    from clapmos.evaluation.submissions import FORMATS, validate_submission
    from clapmos.evaluation.truth import read_system_truth, read_truth_file, truth_from_store

    _submission_format(format, ("auto", *FORMATS))
    if (store is None) == (truth is None) or (store is not None and split is None):
        raise ClapmosError("give either --store with --split, or --truth")
    report_dir = check_output_folder(out_dir or default_out_dir(pred), "--out-dir", is_report_folder)
    with reported_warnings():
        if store is not None:
            reference = truth_from_store(store, _known_splits(_open_store(store), _split_list(split)))
        else:
            reference = read_truth_file(truth)
        if system_truth is not None:
            reference = reference.with_system_means(read_system_truth(system_truth))
        if check:
            validate_submission(pred, reference.clips["id"], format)
            out.print(f"{pred} is a valid submission for the {len(reference.clips)} clips of {reference.source}", highlight=False)
            if not reference.labelled:
                return
        report = evaluate_file(pred, reference, format)
    out.print(markdown_table(report.results), markup=False, highlight=False)
    out.print(format_line(report.results), markup=False, highlight=False)
    written = write_outputs(report, report_dir, plots=plots)
    out.print(f"wrote {len(written)} files to {written[0].parent}", highlight=False)


# --------------------------------------------------------------------------- use fitted runs: score new audio, compare runs
@app.command()
@user_errors
def score(
    inputs: Annotated[list[Path], typer.Argument(help="Audio files, folders of them (searched recursively), or .jsonl/.csv lists with a `path` column and optional text, system, start_s, end_s, id.", show_default=False)],
    model: Annotated[Path, typer.Option(help="Run folder written by `fit --out`.")],
    out_file: Annotated[Path, typer.Option("--out", help="Scores to write, one row per input: .jsonl or .csv. With systems also <stem>_systems.csv, <stem>_ahead.csv and <stem>_systems.png.")],
    cache: Annotated[Optional[Path], typer.Option(help="Embedding cache folder (default: clapmos_cache beside --out). Clips already in it are never embedded again.")] = None,
    checkpoint: Annotated[Optional[list[str]], typer.Option(metavar="[EMBEDDER=]PATH", help="The checkpoint the run's embedder was trained with, checked by its sha256; EMBEDDER=PATH for one of several embedders. Repeatable. Needed only when something must be embedded and the file is no longer where `embed` read it (the store recorded its path).")] = None,
    tokenizer: Annotated[Optional[list[str]], typer.Option(metavar="[EMBEDDER=]PATH", help="clap: folder with the roberta-base tokenizer files (as for `embed`; default: the recorded one).")] = None,
    m2d_portable: Annotated[Optional[list[str]], typer.Option(metavar="[EMBEDDER=]PATH", help="m2d: path of the authors' portable_m2d.py (as for `embed`; default: the recorded one).")] = None,
    model_path: Annotated[Optional[list[str]], typer.Option(metavar="[EMBEDDER=]PATH", help="hf-clap, hf-audio: the model folder (as for `embed`; default: the recorded one), checked by its weights' sha256.")] = None,
    device: Annotated[str, typer.Option(callback=_device, help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int, typer.Option(min=1, metavar="N", help="Audio windows per forward pass.")] = 8,
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="Threads that read, hash and resample audio.")] = 2,
    system_from: Annotated[Optional[str], typer.Option(metavar="folder|PATTERN", help="System of the inputs that name none: `folder` (the folder a file is in) or a regular expression searched in the file name (its first group), e.g. '(S\\d+)_'.")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Score the usable inputs when some are missing, unreadable, empty or have a segment outside the file, and list the skipped ones.")] = False,
    draws: Annotated[int, typer.Option(min=100, help="Bootstrap draws for the system intervals and shares ahead.")] = 2000,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Level of the system intervals.")] = 0.95,
    seed: Annotated[int, typer.Option(min=0, metavar="N", help="Seed of the bootstrap draws.")] = 0,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save the plot of the systems with their intervals.")] = True,
) -> None:
    """Score audio files with a fitted run: one row per input with each target and its spread (the ensemble's std).

    Embeds what the cache lacks with the run's own embedder settings (the checkpoint must be the one the run was
    trained with). When the inputs name their systems, also prints and writes each system's mean score with a
    bootstrap interval over its clips, and in how many draws each system is ahead of each other.
    """
    from clapmos.evaluation.outputs import SCORE_SUFFIXES, check_replaceable, write_scores
    from clapmos.evaluation.predictor import Predictor
    from clapmos.embed.engines.score_inputs import read_score_inputs

    if out_file.suffix.lower() not in SCORE_SUFFIXES:
        raise ClapmosError(f"--out {out_file}: write scores to a .jsonl or .csv file.")
    table = read_score_inputs(inputs, system_from=system_from)
    with_systems = bool((table["system"] != "").any())
    check_replaceable({out_file: "scores", **(_system_files(out_file) if with_systems else {})})
    from clapmos.heads.runs.run import load_run

    try:
        run = load_run(model)
    except ClapmosError as error:
        raise ClapmosError(f"--model {error}") from None
    predictor = Predictor.from_run(
        run, cache if cache is not None else out_file.parent / "clapmos_cache", checkpoint=checkpoint, tokenizer=tokenizer,
        m2d_portable=m2d_portable, model_path=model_path, device=device, batch_size=batch_size, workers=workers, progress=True,
    )
    with reported_warnings():
        result = predictor.score_inputs(table, skip_bad=skip_bad)
        write_scores(result.scores, out_file)
        comparison = predictor.compare_systems(result.scores, n_draws=draws, confidence=confidence, seed=seed) if with_systems else None
    if result.skipped:
        err.print(f"[yellow]skipped {len(result.skipped)} input(s):[/]", highlight=False)
        err.print("\n".join(f"  {line}" for line in result.skipped), markup=False, highlight=False, soft_wrap=True)
    out.print(f"scored {len(result.scores)} input(s) ({', '.join(result.targets) or 'no target'}) with {model}: "
              f"{result.embedded} clip(s) embedded now, {result.cached} read from the cache {predictor.cache.folder}", highlight=False, soft_wrap=True)
    written = [out_file]
    if comparison is not None:
        _print_table(f"systems (mean predicted score, {comparison.confidence:.0%} interval over clips; {draws} draws, seed {seed})",
                     comparison.markdown())
        for target in comparison.targets:
            _print_table(f"{target}: share of draws in which the row system is ahead", comparison.matrix_markdown(target))
        written += comparison.write(out_file, plots=plots)
    out.print(f"\nwrote {', '.join(map(str, written))}", highlight=False, soft_wrap=True)


def _system_files(out_file: Path) -> dict[Path, str]:
    from clapmos.evaluation.systems import SystemComparison

    return SystemComparison.files(out_file)


@app.command()
@user_errors
def runs(
    folders: Annotated[list[Path], typer.Argument(help="Run folders (written by `fit --out`), or folders holding them.", show_default=False)],
    sort: Annotated[Optional[str], typer.Option(metavar="WHERE.LEVEL.METRIC.TARGET", help="Metric to sort by, e.g. held-out.system.SRCC.overall or oof.utterance.MSE.textual (default: held-out system SRCC of the first target, else out-of-fold).")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Write the whole table as CSV (.csv), with the printed table as .md and a plot of the sort metric as .png beside it.")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="With --out, save the plot.")] = True,
) -> None:
    """Compare run folders in one table: heads, embedders, features, the settings that differ, and their metrics."""
    from clapmos.evaluation.outputs import check_replaceable
    from clapmos.evaluation.run_comparison import compare_runs

    if out_file is not None and out_file.suffix.lower() != ".csv":
        raise ClapmosError(f"--out {out_file}: name a .csv file (the .md and .png are written beside it).")
    comparison = compare_runs(folders, sort=sort)
    if out_file is not None:
        check_replaceable(comparison.files(out_file))
    _print_table(f"{len(comparison.table)} run(s)" + (f", best first by {comparison.sort}" if comparison.sort else ""), comparison.markdown())
    if out_file is not None:
        written = comparison.write(out_file, plots=plots)
        out.print(f"\nwrote {', '.join(map(str, written))}", highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point of the ``clapmos`` console script."""
    app()


if __name__ == "__main__":
    main()
