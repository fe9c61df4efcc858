"""Fitted runs put to use: `clapmos score` (new audio files), `runs` (runs compared) and `report` (one run's page)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from clapmos.embed.command_line import check_device, check_out_files, err, open_store, out, print_table, reported_warnings, user_errors
from clapmos.embed.errors import ClapmosError
from clapmos.embed.filesystems import is_url


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
    device: Annotated[str, typer.Option(callback=check_device, help="auto, cpu, cuda or cuda:N.")] = "auto",
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
    check_out_files([out_file, *(_system_files(out_file) if with_systems else {})])
    if cache is not None:
        from clapmos.embed.ownership import refuse_inside

        refuse_inside(cache, "--cache")
    from clapmos.heads.runs.fitted import load_run

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
        print_table(f"systems (mean predicted score, {comparison.confidence:.0%} interval over clips; {draws} draws, seed {seed})",
                     comparison.markdown())
        for target in comparison.targets:
            print_table(f"{target}: share of draws in which the row system is ahead", comparison.matrix_markdown(target))
        written += comparison.write(out_file, plots=plots)
    out.print(f"\nwrote {', '.join(map(str, written))}", highlight=False, soft_wrap=True)



def _system_files(out_file: Path) -> dict[Path, str]:
    from clapmos.evaluation.systems import SystemComparison

    return SystemComparison.files(out_file)



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
        check_out_files([*comparison.files(out_file), out_file.with_name(f"{out_file.stem}_paired.csv")])
    print_table(f"{len(comparison.table)} run(s)" + (f", best first by {comparison.sort}" if comparison.sort else ""), comparison.markdown())
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
        print_table(f"paired comparison on the same clips ({where}; {confidence:.0%} intervals, {draws} draws, Holm over "
                     f"{int(paired.groupby(['level', 'target', 'metric']).size().max())} pair(s))", paired_markdown(shown))
    if out_file is not None:
        written = comparison.write(out_file, plots=plots)
        if paired is not None:
            from clapmos.evaluation.outputs import write_table

            write_table(paired, out_file.with_name(f"{out_file.stem}_paired.csv"))
            written.append(out_file.with_name(f"{out_file.stem}_paired.csv"))
        out.print(f"\nwrote {', '.join(map(str, written))}", highlight=False, soft_wrap=True)



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
    check_out_files([out_file if out_file is not None else run_folder.with_name(f"{run_folder.name}_report.html")])
    if store is not None:
        open_store(store)
    from clapmos.evaluation.intervals import BootstrapSettings
    from clapmos.evaluation.pipeline import report_run

    with reported_warnings(), err.status("writing the report..."):
        path = report_run(run_folder, out_file, store=store, n_worst=worst, bootstrap=BootstrapSettings(draws, confidence, seed))
    out.print(f"wrote {path}", highlight=False)
