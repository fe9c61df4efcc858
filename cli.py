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
from clapmos.embed.filesystems import is_url, location
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
# emoji=False: a message naming `file.py:X:` stays as written (rich would turn `:X:` into an emoji)
err = Console(stderr=True, soft_wrap=True, emoji=False)
out = Console(soft_wrap=True, emoji=False)
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


def _open_corpora(paths: list[Path]) -> dict:
    """Several --store: each opened (errors name the store), by corpus label (the folder name), in the order given."""
    from clapmos.heads.runs.corpora import corpus_label

    stores: dict = {}
    for path in paths:
        label = corpus_label(location(path))
        if label in stores:
            raise ClapmosError(f"--store {path}: another store is also named {label!r} ({stores[label].path}); a store's corpus is its "
                               "folder name, so give each store its own name")
        stores[label] = _open_store(path)
    return stores


def _open_store(path: Path, option: str = "--store"):
    """The store at ``path`` (a folder or a URL); errors name the option it came from."""
    from clapmos.embed.files import require_folder

    path = location(path)
    if not is_url(path):
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


def _check_out_files(paths: list[Path], option: str = "--out") -> None:
    """Refuse, before any work, output files that are folders, lie inside a clapmos folder, or exist and are not clapmos's unchanged outputs."""
    from clapmos.embed.ownership import check_replaceable, refuse_inside

    if paths[0].is_dir():
        raise ClapmosError(f"{option} {paths[0]} is a folder; give the name of the file to write.")
    refuse_inside(paths[0], option)
    check_replaceable(paths, option)


def _known_heads(value: str) -> None:
    """Refuse unknown head names in ``--head`` (``head`` or ``head:tag``) from the registry's name list alone."""
    from clapmos.heads.registry import member_head

    unknown = [h for h in _split_list(value) or [] if member_head(h) not in HEAD_NAMES]
    if unknown:
        raise ClapmosError(f"--head {value}: unknown head(s) {', '.join(unknown)}; choose from {', '.join(HEAD_NAMES)}")


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
    ctx: typer.Context,
    corpus: Annotated[str, typer.Option(help="Corpus layout: musiceval, musiceval-eval, xacle, manifest, songeval, audiobox-aes, audiomos-track2 or preferences (README: which inferred facts each assumes).")],
    root: Annotated[Path, typer.Option(help="Release folder (or the manifest file for 'manifest').")],
    out_store: Annotated[Path, typer.Option("--out", help="Zarr store to create or complete (a new name, or a store clapmos wrote).")],
    embedder: Annotated[str, typer.Option(help="Embedder name (see `clapmos info --embedders`), or your own class as path/to/file.py:ClassName.")] = "clap",
    split: Annotated[Optional[list[str]], typer.Option(metavar="SPLIT", help="Split(s) to embed; default: every split. Repeatable.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, metavar="N", help="Audio windows per forward pass.")] = 8,
    device: Annotated[str, typer.Option(callback=_device, help="auto, cpu, cuda or cuda:N.")] = "auto",
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="Threads that read and resample audio ahead of the model.")] = 2,
    threads: Annotated[int, typer.Option(min=1, metavar="N", help="CPU threads of the model (torch, BLAS); default: the cores this process may use (affinity and cgroup quota), or $CLAPMOS_THREADS. Give 1 on a busy shared machine.")] = DEFAULT_THREADS,
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
    from clapmos.embed.backends import get_embedder_class

    embedder_class = get_embedder_class(embedder)  # an unknown name, or a missing or broken plugin file, fails before any heavy import
    ranges = _score_ranges(score_range)
    source = ctx.get_parameter_source("frame_dtype")
    if not frames and source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
        raise ClapmosError("--frame-dtype applies to frame tokens: add --frames, or leave --frame-dtype out.")
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
    from clapmos.embed.backends import create_embedder
    from clapmos.embed.backends.contract import load_embedder
    from clapmos.embed.corpora import read_corpus
    from clapmos.embed.store.replacement import check_destination
    from clapmos.embed.engines.runner import resolve_windows
    from clapmos.embed.store import FeatureStore

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
    out_store = location(out_store)
    if is_url(out_store):  # object storage: ownership by its record, and no swaps (clapmos.embed.filesystems)
        from clapmos.embed.filesystems import refuse_swap, store_state

        if overwrite or rebuild:
            refuse_swap(str(out_store), "--overwrite" if overwrite else "--rebuild")
        store_state(str(out_store))
    else:
        from clapmos.embed.ownership import refuse_inside

        refuse_inside(out_store)  # a store inside a run, a report, a cache or another store
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
    name: Annotated[Optional[str], typer.Argument(help="A recipe to show in full: every setting (published value, ours, why they differ), then its settings as options.")] = None,
) -> None:
    """List the recipes: published systems as `fit --recipe NAME` settings, with the figure each was published with."""
    from clapmos.heads.runs.recipes import describe, recipes_table

    text = describe(name) if name else recipes_table() + "\n\nShow one in full: clapmos recipes NAME"
    out.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


@app.command()
@user_errors
def fit(
    ctx: typer.Context,
    store: Annotated[list[Path], typer.Option(help="Feature store made by `clapmos embed`. Repeat for several corpora (listening tests) in one model: --store a.zarr --store b.zarr fits --head aligned, a shared score with a learned map onto each corpus's scale; each store's corpus is its folder name, the first is the reference.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run folder to write (model, config, metrics, plots). An earlier run there is replaced whole once the new one is complete, unless a file in it was added or edited; any other folder is refused, and so is a path inside a run or a store.")],
    embedder: Annotated[str, typer.Option(help="Embedder(s) whose features to use, comma-separated (see `clapmos info STORE`); several are used side by side, e.g. m2d,clap.")] = "clap",
    head: Annotated[str, typer.Option(help=f"Head(s), comma-separated: {', '.join(HEAD_NAMES)} (attn_mlp and xattn read frame tokens: embed --frames); head:tag for a second member of one head (svr:a,svr:b). Several are stacked with ridge.")] = "spo_mlp",
    features: Annotated[Optional[str], typer.Option(help="Feature blocks, comma-separated: audio, text, product, absdiff, cosine, angular, l1, l2 (default: audio for overall, audio,text,cosine otherwise); per target: overall=audio;textual=audio,text.")] = None,
    target: Annotated[Optional[list[str]], typer.Option(metavar="TARGET", help="Target(s) to fit (default: all the store's). Repeatable.")] = None,
    train_split: Annotated[str, typer.Option(help="Split(s) to train on, comma-separated.")] = "train",
    eval_split: Annotated[Optional[str], typer.Option(help="Held-out split(s) to predict and score after fitting, e.g. dev; not one of the training splits.")] = None,
    cv: Annotated[int, typer.Option(min=1, metavar="K", help="Folds of the cross-validated ensemble; 1 trains one model per head on the whole training split (a recipe's published single-model protocol; no out-of-fold scores, use --eval-split).")] = 5,
    group: Annotated[str, typer.Option(help="Keep a system or prompt on one side of every fold: none, system or prompt.")] = "none",
    seeds: Annotated[int, typer.Option(min=1, metavar="N", help="Repeat the folds with this many seeds (more fold models).")] = 1,
    screening_tau: Annotated[Optional[float], typer.Option(min=0, metavar="DISTANCE", help="SPO rating screening: keep a rating only if another rating of the clip lies within this distance.")] = None,
    param: Annotated[Optional[list[str]], typer.Option(metavar="KEY=VALUE", help="Head setting key=value (all heads) or head.key=value, e.g. spo_mlp.max_epochs=50; checked before any work. Repeatable.")] = None,
    stack: Annotated[bool, typer.Option("--stack/--average", help="Combine several heads with a ridge on their out-of-fold predictions, or average them.")] = True,
    seed: Annotated[int, typer.Option(min=0, metavar="N", help="Random seed of folds and heads, used as given: the models of the first repetition are trained with N (a recipe's published seed), repetition r of --seeds with N + r.")] = 0,
    threads: Annotated[int, typer.Option(min=1, metavar="N", help="CPU threads for fitting (torch, LightGBM, BLAS); default: the cores this process may use (affinity and cgroup quota), or $CLAPMOS_THREADS. Give 1 on a busy shared machine.")] = DEFAULT_THREADS,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save scatter plots (and, for frame heads, where they listen in the worst-predicted clips).")] = True,
    recipe: Annotated[Optional[str], typer.Option(help="Start from a published system's settings (list: `clapmos recipes`); the options you give override them.")] = None,
    stack_method: Annotated[str, typer.Option(help="How several heads are combined: ridge (with intercept) or nnls (non-negative weights fitted to the out-of-fold predictions).")] = "ridge",
    clip: Annotated[Optional[str], typer.Option(help="Clip the ensemble's predictions to LOW,HIGH, e.g. 0,10.")] = None,
    device: Annotated[Optional[str], typer.Option(callback=_device, help="Where the torch heads train: cpu, cuda, cuda:N or auto (default: each head's own setting, the CPU).")] = None,
    draws: Annotated[int, typer.Option(min=0, help="Bootstrap draws for the interval of every metric (two-level systems/clips at system level); 0: no intervals. Seeded by --seed.")] = 1000,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Level of the metric intervals.")] = 0.95,
    pretrain_store: Annotated[Optional[Path], typer.Option(help="Store of unrated (prompt, audio) pairs embedded like --store: the torch heads first learn their pseudo-labels (the CLAP audio-text cosine), then fine-tune on the ratings. Off by default.")] = None,
    pretrain_embedder: Annotated[Optional[str], typer.Option(help="Embedder whose audio-text cosine is the pseudo-label (default: the first --embedder with text).")] = None,
    target_map: Annotated[Optional[list[str]], typer.Option(metavar="CORPUS:THEIRS=OURS", help="With several --store: store CORPUS's target THEIRS is the run's target OURS (the first store's), e.g. mytest:mos=overall. Targets are never matched by guess: a store lacking a target under the run's name needs one. Repeatable.")] = None,
) -> None:
    """Fit cross-validated heads on cached features; print out-of-fold (and held-out) metrics; save the run.

    The frame heads (attn_mlp, xattn) need the embedder's frame tokens in the store (`embed --frames`).
    """
    _known_heads(head if recipe is None or "heads" in _explicit_fields(ctx) else "")  # names first: answered before any heavy import
    if recipe is not None:
        from clapmos.heads.runs.recipes import recipe as known_recipe

        known_recipe(recipe)
    if target_map and len(store) < 2:
        raise ClapmosError("--target-map maps the targets of a second --store onto the first's; give several --store")
    features_store = _open_store(store[0])  # the quick checks first: no heavy import before them
    corpora = _open_corpora(store) if len(store) > 1 else None
    from clapmos.heads.runs.folder import check_run_destination

    out_dir = location(out_dir)
    if is_url(out_dir):  # a run on object storage: written here, uploaded whole when complete
        from clapmos.embed.filesystems import check_run_url

        check_run_url(str(out_dir))
    else:
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
    for one in (corpora or {"": features_store}).values():
        _known_embedder(one, ",".join(values["embedders"]))
        _known_splits(one, values["train_split"], "--train-split")
        _known_splits(one, values["eval_split"], "--eval-split")
    if corpora is not None:
        from clapmos.heads.runs.corpora import check_corpora, corpora_config, parse_target_maps

        if "heads" not in _explicit_fields(ctx) and recipe is None:
            values["heads"] = ["aligned"]
        check_corpora(corpora, values["embedders"])
        targets = values["targets"] or features_store.targets
        values["corpora"] = corpora_config(corpora, targets, parse_target_maps(target_map or []))

    from clapmos.embed.threads import limit_threads
    from clapmos.evaluation.fit_report import heads_markdown
    from clapmos.evaluation.metrics import markdown_table
    from clapmos.evaluation.intervals import BootstrapSettings
    from clapmos.evaluation.pipeline import fit_and_report
    from clapmos.heads.registry import member_head
    from clapmos.heads.runs.run import RunConfig

    if any(member_head(h) == "lgbm" for h in values["heads"]) and not any(k.split(".")[-1] == "n_jobs" for k in values["params"]):
        values["params"] = {**values["params"], "lgbm.n_jobs": threads}
    config = RunConfig(**values)
    if corpora is not None:
        from clapmos.heads.runs.corpora import PooledStores

        features_store = PooledStores(corpora, config.corpora)
    config.check(features_store)  # every option and model parameter, before any work
    with reported_warnings(), limit_threads(threads):
        with err.status(f"fitting {', '.join(config.heads)} with {f'{config.cv}-fold cross-validation' if config.cv > 1 else 'one model each'}..."):
            if is_url(out_dir):
                import tempfile

                from clapmos.embed.filesystems import upload_run

                with tempfile.TemporaryDirectory(prefix="clapmos-fit-") as local:
                    outcome = fit_and_report(features_store, config, Path(local) / Path(str(out_dir)).name, plots=plots, bootstrap=BootstrapSettings(draws, confidence, seed))
                    upload_run(outcome.folder, str(out_dir))
            else:
                outcome = fit_and_report(features_store, config, out_dir, plots=plots, bootstrap=BootstrapSettings(draws, confidence, seed))
    run = outcome.run
    if outcome.cv is not None:
        _print_folds(outcome.cv_folds)
        _print_table(f"cross-validated ({run.models[run.targets[0]].n_splits_}-fold, out-of-fold) on {'+'.join(config.train_split)}",
                     markdown_table(outcome.cv.results))
    else:
        out.print(f"one model per head trained on the whole of {'+'.join(config.train_split)} (--cv 1): no out-of-fold scores", highlight=False)
    if outcome.heads is not None:
        _print_table("per head (out-of-fold)", heads_markdown(outcome.heads))
    if outcome.held_out is not None:
        _print_table(f"held-out split {'+'.join(config.eval_split)}", markdown_table(outcome.held_out.results))
        _print_seen(outcome.held_out.seen)
    for label, reports in (outcome.corpora or {}).items():
        for where, report in reports.items():
            _print_table(f"corpus {label}, on its own scale: {where}", markdown_table(report.results))
    out.print(f"\nsaved the run to {out_dir}", highlight=False)


def _print_folds(info: dict) -> None:
    """What each cross-validation fold held out, and the grouping that decided it."""
    folds = info.get("folds") or []
    if not folds:
        return
    held = ", ".join(f"{f.get('systems_held_out', '?')}/{f.get('systems', '?')}" for f in folds)
    out.print(f"\nfolds grouped by {info['group']}: systems held out whole per fold {held}"
              + (" (ungrouped folds see every system in training: optimistic for unseen systems; --group system)" if info["group"] == "none" else ""),
              highlight=False, soft_wrap=True)


def _print_seen(seen) -> None:
    if seen is not None and len(seen):
        from clapmos.evaluation.seen import seen_markdown

        _print_table("seen and unseen in training (systems, prompts)", seen_markdown(seen))


@app.command()
@user_errors
def predict(
    model: Annotated[Path, typer.Option(help="Run folder written by `clapmos fit --out`.")],
    store: Annotated[Path, typer.Option(help="Feature store with the items to predict (same embedder settings).")],
    out_file: Annotated[Path, typer.Option("--out", help="File to write: answer.txt (or .zip), a XACLE .csv, or a plain .csv. A file clapmos wrote there, unchanged since, is replaced; any other file is refused.")],
    split: Annotated[Optional[str], typer.Option(help="Split(s) to predict, comma-separated (default: every item).")] = None,
    format: Annotated[str, typer.Option(help="audiomos (answer.txt), xacle (wav_file_name,pred_score), csv (id,<targets>,<target>_std), songeval-track1 (utt score .scp, one per test set), songeval-track2 (utt + 5 scores in the baseline's order; songeval-track2-site: the site's order) or audiomos-track2 (sample_id,PQ,PC,CE,CU).")] = "csv",
    corpus: Annotated[Optional[str], typer.Option(help="A run fitted on several stores: the corpus whose scale to predict on (default: the corpus of --store, when it is one of the run's stores; another store is refused without this option).")] = None,
) -> None:
    """Predict scores for a store's items with a fitted run and write a validated submission file."""
    from clapmos.evaluation.submissions import FORMATS

    _submission_format(format, tuple(FORMATS))
    _check_out_files([out_file])
    features_store = _open_store(store)
    splits = _known_splits(features_store, _split_list(split))
    from clapmos.evaluation.pipeline import predict_to_file
    from clapmos.heads.runs.run import load_run

    try:
        run = load_run(location(model))
    except ClapmosError as error:
        raise ClapmosError(f"--model {error}") from None
    predictions = predict_to_file(run, features_store, out_file, split=splits, format=format, corpus=corpus)
    out.print(f"wrote {len(predictions)} predictions of {', '.join(run.targets)} to {out_file} ({format})", highlight=False)


@app.command("score-zero-shot")
@user_errors
def score_zero_shot(
    store: Annotated[Path, typer.Option(help="Feature store made by `clapmos embed`.")],
    embedder: Annotated[str, typer.Option(help="Embedder whose audio and text embeddings are compared.")] = "clap",
    split: Annotated[Optional[str], typer.Option(help="Split(s), comma-separated (default: every item).")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="CSV to write: id,cosine (one clapmos wrote, unchanged since, is replaced; any other file is refused).")] = None,
) -> None:
    """The training-free CLAPScore: the cosine of each clip's audio and text embeddings.

    Prints its correlations with every labelled target (only the ranking is meaningful: the cosine is not on the score scale).
    """
    if out_file is not None:
        _check_out_files([out_file])
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
        from clapmos.evaluation.outputs import write_table

        write_table(frame, out_file)
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
    split: Annotated[Optional[str], typer.Option(help="Split(s) of --store to evaluate on, comma-separated, e.g. dev.")] = None,
    truth: Annotated[Optional[Path], typer.Option(help="Truth file instead of a store: MusicEval *_mos_list.txt or XACLE *_average.csv.")] = None,
    system_truth: Annotated[Optional[Path], typer.Option(help="Given true system means (MusicEval system_mos_phase1.csv).")] = None,
    format: Annotated[str, typer.Option(help="Prediction file format: auto, audiomos, xacle, csv, songeval-track1, songeval-track2, songeval-track2-site or audiomos-track2.")] = "auto",
    out_dir: Annotated[Optional[Path], typer.Option(help="Report folder (default: <pred stem>_eval next to the file); an earlier report clapmos wrote there is replaced, unless a file in it was added or edited (then it is refused, as is any other folder).")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save utterance- and system-level scatter plots.")] = True,
    check: Annotated[bool, typer.Option("--check", help="First require a complete, valid submission for the split (enough for an unlabelled one).")] = False,
    draws: Annotated[int, typer.Option(min=0, help="Bootstrap draws for the interval of every metric (utterance: clips, or prompts where shared; system: systems then their clips); 0: no intervals.")] = 1000,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Level of the intervals.")] = 0.95,
    seed: Annotated[int, typer.Option(min=0, metavar="N", help="Seed of the bootstrap draws.")] = 0,
    against: Annotated[Optional[Path], typer.Option(help="Another prediction file of the same clips: paired-bootstrap difference of every metric (--pred minus it), share of draws each is ahead.")] = None,
    train_split: Annotated[Optional[str], typer.Option(help="With --store: the split(s) the predictor was trained on; metrics are also reported for seen and unseen systems and prompts.")] = None,
    report_page: Annotated[bool, typer.Option("--report", help="Also write report.html in the report folder: one self-contained page with the metrics, plots, systems and the worst clips with their audio embedded (from --store).")] = False,
    leaderboard: Annotated[bool, typer.Option("--leaderboard", help="A store with pairwise votes: also fit Music Arena's Bradley–Terry leaderboard of the systems from the human votes and from the predicted preferences (leaderboard.csv).")] = False,
    min_votes: Annotated[int, typer.Option(min=1, metavar="N", help="--leaderboard: votes a system needs to be listed (Music Arena: 30).")] = 30,
) -> None:
    """Score a prediction file with the challenges' metrics (MSE, LCC, SRCC, KTAU per level and target).

    A SongEval store adds Top-Tier Accuracy (TTA); a store with pairwise votes adds CMI-RewardBench's pairwise accuracy (ACC).

    Clips present on one side only are left out with a warning; predictions that are not finite are refused. Prints a Markdown table; writes results.csv, results.json, predictions.csv and scatter plots.
    """
    from clapmos.embed.files import require_file

    for option, path in (("--pred", pred), ("--truth", truth), ("--system-truth", system_truth), ("--against", against)):
        if path is not None:
            require_file(path, "an existing file", flag=option)
    from clapmos.evaluation.metrics import format_line, markdown_table
    from clapmos.evaluation.report import check_report_destination, default_out_dir, evaluate_file, write_outputs
    from clapmos.evaluation.intervals import BootstrapSettings
    from clapmos.evaluation.seen import seen_unseen
    from clapmos.evaluation.submissions import FORMATS, validate_submission
    from clapmos.evaluation.versus import compare_clip_tables
    from clapmos.evaluation.truth import read_system_truth, read_truth_file, truth_from_store

    _submission_format(format, ("auto", *FORMATS))
    if (store is None) == (truth is None) or (store is not None and split is None):
        raise ClapmosError("give either --store with --split, or --truth")
    report_dir = check_report_destination(out_dir or default_out_dir(pred))
    if train_split is not None and store is None:
        raise ClapmosError("--train-split names splits of --store: give --store with --split")
    with reported_warnings():
        if store is not None:
            reference = truth_from_store(store, _known_splits(_open_store(store), _split_list(split)))
        else:
            reference = read_truth_file(truth)
        if system_truth is not None:
            reference = reference.with_system_means(read_system_truth(system_truth))
        if leaderboard and reference.comparisons is None:
            raise ClapmosError(f"--leaderboard needs a --store whose split holds pairwise votes (embed --corpus preferences); {reference.source} has none")
        if check:
            validate_submission(pred, reference.clips["id"], format)
            out.print(f"{pred} is a valid submission for the {len(reference.clips)} clips of {reference.source}", highlight=False)
            if not reference.labelled:
                return
        settings = BootstrapSettings(draws, confidence, seed)
        report = evaluate_file(pred, reference, format, bootstrap=settings)
        if train_split is not None:
            features_store = _open_store(store)
            items = features_store.items(_known_splits(features_store, _split_list(train_split), "--train-split"))
            report.seen = seen_unseen(report.clips, report.targets, {"system": set(items["system"]) - {""}, "prompt": set(items["text"]) - {""}},
                                      reference.prompts, settings)
        if against is not None:
            other = evaluate_file(against, reference, "auto", bootstrap=BootstrapSettings(0))
            names = [str(pred), str(against)] if pred.name == against.name else [pred.name, against.name]
            report.paired = compare_clip_tables(dict(zip(names, (report.clips, other.clips))), report.targets, settings,
                                                prompts=reference.prompts, system_truth=reference.system_means)
    interval = f", {confidence:.0%} bootstrap intervals ({draws} draws, seed {seed})" if draws else ""
    _print_table(f"{report.label}{interval}", markdown_table(report.results))
    out.print(format_line(report.results), markup=False, highlight=False)
    _print_seen(report.seen)
    if report.paired is not None:
        from clapmos.evaluation.paired import paired_markdown

        _print_table(f"paired comparison on the same {len(report.clips)} clips (A = --pred, B = --against)", paired_markdown(report.paired))
    written = write_outputs(report, report_dir, plots=plots)
    if report_page:
        from clapmos.evaluation.html_report import write_html_report

        items = _open_store(store).items().set_index("id") if store is not None else None
        written.append(write_html_report(report, report_dir / "report.html", audio=None if items is None else items["path"].to_dict(),
                                         prompts=None if reference.prompts is None else reference.prompts.to_dict()))
    if leaderboard:
        written.append(_write_leaderboard(reference, pred, format, report_dir, min_votes))
    out.print(f"wrote {len(written)} files to {written[0].parent}", highlight=False)


def _write_leaderboard(reference, pred: Path, format: str, report_dir: Path, min_votes: int) -> Path:
    """``leaderboard.csv`` beside the report: Bradley–Terry strengths from the human votes and from the predictions."""
    from scipy.stats import spearmanr

    from clapmos.evaluation.pairwise import leaderboards
    from clapmos.evaluation.submissions import read_submission

    table = leaderboards(reference.comparisons, read_submission(pred, format), reference.clips.set_index("id")["system"], min_votes=min_votes)
    from clapmos.evaluation.outputs import write_table

    path = report_dir / "leaderboard.csv"
    write_table(table, path)
    for dimension, rows in table.groupby("dimension", sort=False):
        rows = rows.dropna()
        agreement = spearmanr(rows["human"], rows["predicted"]).statistic if len(rows) > 2 else float("nan")
        out.print(f"leaderboard {dimension}: {len(rows)} systems with ≥ {min_votes} votes, SRCC human vs predicted {agreement:.3f}", highlight=False)
    return path


# --------------------------------------------------------------------------- use fitted runs: score new audio, compare runs
@app.command()
@user_errors
def score(
    inputs: Annotated[list[Path], typer.Argument(help="Audio files, folders of them (searched recursively), or .jsonl/.csv lists with a `path` column and optional text, system, start_s, end_s, id.", show_default=False)],
    model: Annotated[str, typer.Option(metavar="RUN|ORG/NAME", help="Run folder written by `fit --out`, or a run on the Hugging Face Hub (org/name, downloaded into its cache; offline with HF_HUB_OFFLINE=1).")],
    out_file: Annotated[Path, typer.Option("--out", help="Scores to write, one row per input: .jsonl or .csv. With systems also <stem>_systems.csv, <stem>_ahead.csv and <stem>_systems.png.")],
    cache: Annotated[Optional[Path], typer.Option(help="Embedding cache folder (default: clapmos_cache beside --out). Clips already in it are never embedded again.")] = None,
    checkpoint: Annotated[Optional[list[str]], typer.Option(metavar="[EMBEDDER=]PATH", help="The checkpoint the run's embedder was trained with, checked by its sha256; EMBEDDER=PATH for one of several embedders. Repeatable. Needed only when something must be embedded and the file is no longer where `embed` read it (the store recorded its path).")] = None,
    tokenizer: Annotated[Optional[list[str]], typer.Option(metavar="[EMBEDDER=]PATH", help="clap: folder with the roberta-base tokenizer files (as for `embed`; default: the recorded one).")] = None,
    m2d_portable: Annotated[Optional[list[str]], typer.Option(metavar="[EMBEDDER=]PATH", help="m2d: path of the authors' portable_m2d.py (as for `embed`; default: the recorded one).")] = None,
    model_path: Annotated[Optional[list[str]], typer.Option(metavar="[EMBEDDER=]PATH", help="hf-clap, hf-audio: the model folder (as for `embed`; default: the recorded one), checked by its weights' sha256.")] = None,
    plugin: Annotated[Optional[list[str]], typer.Option(metavar="[EMBEDDER=]PATH", help="A plugin embedder's file.py, when it moved after the run was trained (checked by the sha256 the store recorded). Repeatable.")] = None,
    device: Annotated[str, typer.Option(callback=_device, help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int, typer.Option(min=1, metavar="N", help="Audio windows per forward pass.")] = 8,
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="Threads that read, hash and resample audio.")] = 2,
    system_from: Annotated[Optional[str], typer.Option(metavar="folder|PATTERN", help="System of the inputs that name none: `folder` (the folder a file is in) or a regular expression searched in the file name (its first group), e.g. '(S\\d+)_'.")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Score the usable inputs when some are missing, unreadable, empty or have a segment outside the file, and list the skipped ones.")] = False,
    draws: Annotated[int, typer.Option(min=100, help="Bootstrap draws for the system intervals and shares ahead.")] = 2000,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Level of the system intervals.")] = 0.95,
    seed: Annotated[int, typer.Option(min=0, metavar="N", help="Seed of the bootstrap draws.")] = 0,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save the plot of the systems with their intervals.")] = True,
    clip: Annotated[bool, typer.Option("--clip", help="Clip predictions to the range of the scores the run was trained on. By default they are not clipped, only marked in <target>_outside with a warning.")] = False,
    engine: Annotated[Literal["local", "dask"], typer.Option(help="Where clips missing from the cache are embedded: local (this process) or dask (Dask workers, each with its own model; pip install 'clapmos[dask]'). Same scores either way.")] = "local",
    scheduler: Annotated[Optional[str], typer.Option(help="dask: address or scheduler file of a running Dask cluster (default: start a local one). Workers must see the audio and the cache under the same paths.")] = None,
    n_workers: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="dask: worker processes of the local cluster (default 2).")] = None,
) -> None:
    """Score audio files with a fitted run: one row per input with each target and its spread (the ensemble's std).

    Embeds what the cache lacks with the run's own embedder settings (the checkpoint must be the one the run was
    trained with). When the inputs name their systems, also prints and writes each system's mean score with a
    bootstrap interval over its clips, and in how many draws each system is ahead of each other.
    """
    from clapmos.embed.errors import listing
    from clapmos.evaluation.outputs import SCORE_SUFFIXES, write_scores
    from clapmos.evaluation.predictor import Predictor
    from clapmos.embed.engines.score_inputs import read_score_inputs, unique_inputs

    if out_file.suffix.lower() not in SCORE_SUFFIXES:
        raise ClapmosError(f"--out {out_file}: write scores to a .jsonl or .csv file.")
    table, repeated = unique_inputs(read_score_inputs(inputs, system_from=system_from))
    if repeated:
        err.print(f"warning: {len(repeated)} clip(s) were given more than once; each is scored and counted once:", markup=False, highlight=False)
        err.print(listing(repeated), markup=False, highlight=False)
    with_systems = bool((table["system"] != "").any())
    _check_out_files([out_file, *(_system_files(out_file) if with_systems else {})])
    if cache is not None:
        from clapmos.embed.ownership import refuse_inside

        refuse_inside(cache, "--cache")
    from clapmos.heads.runs.run import load_run

    from clapmos.heads.runs.hub import run_folder

    try:
        run = load_run(model if is_url(model) else run_folder(model))  # a URL is copied here, then checked like a folder
    except ClapmosError as error:
        raise ClapmosError(f"--model {error}") from None
    with contextlib.ExitStack() as stack:
        client = None
        if engine == "dask":
            from clapmos.embed.engines.distributed import dask_client

            if scheduler is not None and n_workers is not None:
                raise ClapmosError("give --n-workers (to start a local cluster) or --scheduler (to use a running one), not both")
            client = stack.enter_context(dask_client(scheduler, n_workers))
        elif scheduler is not None or n_workers is not None:
            raise ClapmosError("--scheduler and --n-workers are options of --engine dask")
        predictor = Predictor.from_run(
            run, cache if cache is not None else out_file.parent / "clapmos_cache", checkpoint=checkpoint, tokenizer=tokenizer,
            m2d_portable=m2d_portable, model_path=model_path, plugin=plugin, device=device, batch_size=batch_size, workers=workers,
            progress=True, clip=clip, client=client,
        )
        with reported_warnings():
            result = predictor.score_inputs(table, skip_bad=skip_bad)
    with reported_warnings():
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


@app.command()
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
    draws: Annotated[int, typer.Option(min=0, help="Bootstrap draws of the paired comparison of the runs' predictions of the same clips (held-out if every run has them, else out-of-fold); 0: none.")] = 1000,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Level of the paired intervals (and of Holm's test: a difference is established below 1 - confidence).")] = 0.95,
    seed: Annotated[int, typer.Option(min=0, metavar="N", help="Seed of the bootstrap draws.")] = 0,
) -> None:
    """Compare run folders in one table: heads, embedders, features, the settings that differ, and their metrics.

    With several runs, also compares their predictions of the same clips pair by pair: each metric's difference with a
    paired-bootstrap interval, the share of draws each run is ahead, and Holm-corrected p-values (which differences are established).
    """
    from clapmos.evaluation.run_comparison import compare_runs

    if out_file is not None and out_file.suffix.lower() != ".csv":
        raise ClapmosError(f"--out {out_file}: name a .csv file (the .md and .png are written beside it).")
    comparison = compare_runs(folders, sort=sort)
    if out_file is not None:
        _check_out_files([*comparison.files(out_file), out_file.with_name(f"{out_file.stem}_paired.csv")])
    _print_table(f"{len(comparison.table)} run(s)" + (f", best first by {comparison.sort}" if comparison.sort else ""), comparison.markdown())
    paired = None
    if draws and len(comparison.table) > 1:
        from clapmos.evaluation.intervals import BootstrapSettings
        from clapmos.evaluation.paired import paired_markdown
        from clapmos.evaluation.versus import paired_runs

        try:
            with reported_warnings():
                paired, where = paired_runs(comparison.table["run"].tolist(), BootstrapSettings(draws, confidence, seed))
        except ClapmosError as error:  # the table above stands; say why there is no clip-by-clip comparison
            err.print(f"no paired comparison: {error}", markup=False, highlight=False, soft_wrap=True)
    if paired is not None:
        shown = paired[paired["metric"].isin(["SRCC", "MSE"])]
        _print_table(f"paired comparison on the same clips ({where}; {confidence:.0%} intervals, {draws} draws, Holm over "
                     f"{int(paired.groupby(['level', 'target', 'metric']).size().max())} pair(s))", paired_markdown(shown))
    if out_file is not None:
        written = comparison.write(out_file, plots=plots)
        if paired is not None:
            from clapmos.evaluation.outputs import write_table

            write_table(paired, out_file.with_name(f"{out_file.stem}_paired.csv"))
            written.append(out_file.with_name(f"{out_file.stem}_paired.csv"))
        out.print(f"\nwrote {', '.join(map(str, written))}", highlight=False, soft_wrap=True)


@app.command("report")
@user_errors
def report_command(
    run_folder: Annotated[Path, typer.Argument(metavar="RUN", help="Run folder written by `fit --out`.", show_default=False)],
    out_file: Annotated[Optional[Path], typer.Option("--out", help="HTML file to write (default: RUN_report.html beside the run folder); an earlier report clapmos wrote is replaced, any other file refused.")] = None,
    store: Annotated[Optional[Path], typer.Option(help="Store with the clips' audio paths and prompts (default: the store the run was fitted on, if it is still there).")] = None,
    worst: Annotated[int, typer.Option(min=1, metavar="N", help="Worst-predicted clips per target to show with a player.")] = 6,
    draws: Annotated[int, typer.Option(min=0, help="Bootstrap draws for the metric intervals; 0: none.")] = 1000,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Level of the intervals.")] = 0.95,
    seed: Annotated[int, typer.Option(min=0, metavar="N", help="Seed of the bootstrap draws.")] = 0,
) -> None:
    """Write one self-contained HTML page about a run: metrics with intervals, scatter plots at both levels, the systems with
    intervals, and the worst-predicted clips with their prompts, an embedded audio player each and, for frame heads, where
    the head listens. Opens offline from the file system (no CDN, no script)."""
    from clapmos.embed.files import require_folder

    require_folder(run_folder, "a run folder", "Pass the folder given to `clapmos fit --out`.", flag="RUN")
    _check_out_files([out_file if out_file is not None else run_folder.with_name(f"{run_folder.name}_report.html")])
    if store is not None:
        _open_store(store)
    from clapmos.evaluation.intervals import BootstrapSettings
    from clapmos.evaluation.pipeline import report_run

    with reported_warnings(), err.status("writing the report..."):
        path = report_run(run_folder, out_file, store=store, n_worst=worst, bootstrap=BootstrapSettings(draws, confidence, seed))
    out.print(f"wrote {path}", highlight=False)


def main() -> None:
    """Entry point of the ``clapmos`` console script."""
    app()


if __name__ == "__main__":
    main()
