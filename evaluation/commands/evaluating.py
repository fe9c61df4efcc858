"""`clapmos evaluate`: a prediction file scored against a store's labels or a truth file, with intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from clapmos.embed.command_line import known_splits, open_store, out, print_table, reported_warnings, split_list, submission_format, user_errors
from clapmos.embed.errors import ClapmosError


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

    submission_format(format, ("auto", *FORMATS))
    if (store is None) == (truth is None) or (store is not None and split is None):
        raise ClapmosError("give either --store with --split, or --truth")
    report_dir = check_report_destination(out_dir or default_out_dir(pred))
    if train_split is not None and store is None:
        raise ClapmosError("--train-split names splits of --store: give --store with --split")
    with reported_warnings():
        if store is not None:
            reference = truth_from_store(store, known_splits(open_store(store), split_list(split)))
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
            features_store = open_store(store)
            items = features_store.items(known_splits(features_store, split_list(train_split), "--train-split"))
            report.seen = seen_unseen(report.clips, report.targets, {"system": set(items["system"]) - {""}, "prompt": set(items["text"]) - {""}},
                                      reference.prompts, settings)
        if against is not None:
            other = evaluate_file(against, reference, "auto", bootstrap=BootstrapSettings(0))
            names = [str(pred), str(against)] if pred.name == against.name else [pred.name, against.name]
            report.paired = compare_clip_tables(dict(zip(names, (report.clips, other.clips))), report.targets, settings,
                                                prompts=reference.prompts, system_truth=reference.system_means)
    interval = f", {confidence:.0%} bootstrap intervals ({draws} draws, seed {seed})" if draws else ""
    print_table(f"{report.label}{interval}", markdown_table(report.results))
    out.print(format_line(report.results), markup=False, highlight=False)
    print_seen(report.seen)
    if report.paired is not None:
        from clapmos.evaluation.paired import paired_markdown

        print_table(f"paired comparison on the same {len(report.clips)} clips (A = --pred, B = --against)", paired_markdown(report.paired))
    written = write_outputs(report, report_dir, plots=plots)
    if report_page:
        from clapmos.evaluation.html_report import write_html_report

        items = open_store(store).items().set_index("id") if store is not None else None
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


def print_seen(seen) -> None:
    if seen is not None and len(seen):
        from clapmos.evaluation.seen import seen_markdown

        print_table("seen and unseen in training (systems, prompts)", seen_markdown(seen))
