"""The commands of the embed stage: `make-demo`, `embed` and `info` (registered by ``cli.py``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from clapmos.embed.command_line import check_device, check_seconds, open_store, out, reported_warnings, score_ranges, user_errors
from clapmos.embed.devices import PRECISION_NAMES
from clapmos.embed.errors import ClapmosError
from clapmos.embed.filesystems import is_url, location
from clapmos.embed.threads import DEFAULT_THREADS


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



@user_errors
def embed(
    ctx: typer.Context,
    corpus: Annotated[str, typer.Option(help="Corpus layout: musiceval, musiceval-eval, xacle, manifest, songeval, audiobox-aes, audiomos-track2 or preferences (README: which inferred facts each assumes).")],
    root: Annotated[Path, typer.Option(help="Release folder (or the manifest file for 'manifest').")],
    out_store: Annotated[Path, typer.Option("--out", help="Zarr store to create or complete (a new name, or a store clapmos wrote).")],
    embedder: Annotated[str, typer.Option(help="Embedder name (see `clapmos info --embedders`), or your own class as path/to/file.py:ClassName.")] = "clap",
    split: Annotated[Optional[list[str]], typer.Option(metavar="SPLIT", help="Split(s) to embed; default: every split. Repeatable.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, metavar="N", help="Audio windows per forward pass.")] = 8,
    device: Annotated[str, typer.Option(callback=check_device, help="auto, cpu, cuda or cuda:N.")] = "auto",
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="Threads that read and resample audio ahead of the model.")] = 2,
    threads: Annotated[int, typer.Option(min=1, metavar="N", help="CPU threads of the model (torch, BLAS); default: the cores this process may use (affinity and cgroup quota), or $CLAPMOS_THREADS. Give 1 on a busy shared machine.")] = DEFAULT_THREADS,
    window_s: Annotated[Optional[float], typer.Option(callback=check_seconds, metavar="SECONDS", help="Window length in seconds (default: the embedder's).")] = None,
    hop_s: Annotated[Optional[float], typer.Option(callback=check_seconds, metavar="SECONDS", help="Hop between windows in seconds (default: the window).")] = None,
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
    ranges = score_ranges(score_range)
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
    with reported_warnings():  # e.g. damaged rows embedded again (or not carried over by --rebuild), named
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
    out.print(open_store(store, "STORE").summary(), highlight=False)
