"""The fit → predict → evaluate flow as plain functions: what ``cli.py fit`` and ``predict`` do, for notebooks too.

>>> from clapmos.heads.runs.run import RunConfig
>>> outcome = fit_and_report("demo/store.zarr", RunConfig(embedders=["spectral"], heads=["ridge"], eval_split=["dev"]),
...                          "runs/ridge")                                                  # doctest: +SKIP
>>> outcome.cv.results, outcome.held_out.results                                           # doctest: +SKIP
>>> predict_to_file("runs/ridge", "demo/store.zarr", "answer.txt", split=["dev"], format="audiomos")  # doctest: +SKIP

Like :mod:`clapmos.evaluation.predictor`, this module joins the stages (it fits heads and reads
stores); the rest of ``evaluation`` only scores tables (``tests/test_layering.py``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from clapmos.embed.errors import DivergedTrainingWarning
from clapmos.embed.store import FeatureStore
from clapmos.evaluation.attention_plots import attention_plot, worst_clips
from clapmos.evaluation.fit_report import fold_summary, has_oof, heads_table, oof_label, oof_report, write_fit_report
from clapmos.evaluation.intervals import BootstrapSettings
from clapmos.evaluation.report import EvaluationReport, evaluate_predictions
from clapmos.evaluation.seen import seen_unseen
from clapmos.evaluation.submissions import write_submission
from clapmos.evaluation.truth import truth_from_store
from clapmos.heads.runs.corpora import under_corpus_names
from clapmos.heads.runs.folder import writing_run_folder
from clapmos.heads.runs.model_card import write_model_card
from clapmos.heads.runs.run import (
    FittedRun,
    RunConfig,
    fit_run,
    load_run,
    write_run_files,
)
from clapmos.heads.runs.validation import check_fit_converged


@dataclass
class FitOutcome:
    """A fitted and saved run with its reports: out-of-fold (``cv``), per head, and on the held-out split."""

    run: FittedRun
    folder: Path
    cv: EvaluationReport | None  # None for one model per head (``cv=1``): nothing held out
    heads: pd.DataFrame | None  # per head and the ensemble (out-of-fold), when several heads are stacked
    held_out: EvaluationReport | None  # when ``config.eval_split`` is labelled
    cv_folds: dict | None  # the grouping of the folds and what each held out (fit_report.fold_summary); None with --cv 1
    corpora: dict[str, dict[str, EvaluationReport]] | None = None  # several stores: per corpus, its out-of-fold and held-out reports


def fit_and_report(
    store: str | Path | FeatureStore, config: RunConfig, out_dir: str | Path, plots: bool = True,
    bootstrap: BootstrapSettings = BootstrapSettings(),
) -> FitOutcome:
    """Fit ``config`` on ``store``, save the run to ``out_dir``, predict and score the held-out split, write the reports.

    Every metric gets a ``bootstrap`` interval; ``metrics.json`` names the splits and what each fold
    held out (:func:`~clapmos.evaluation.fit_report.fold_summary`). The run folder is written whole (staged beside ``out_dir`` and swapped in when complete,
    see :mod:`clapmos.heads.runs.folder`): an earlier run there is replaced, anything else refused.
    """
    out_dir = Path(out_dir)
    features = FeatureStore.open(store) if isinstance(store, (str, Path)) else store  # or PooledStores: a run of several corpora
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergedTrainingWarning)
        run = fit_run(features, config)
    diverged = [str(w.message) for w in caught if issubclass(w.category, DivergedTrainingWarning)]
    for w in caught:  # the other warnings go on to the user
        if not issubclass(w.category, DivergedTrainingWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    # a diverged fit is not saved: a training loss that became non-finite, or (with out-of-fold predictions) a wild error
    for table in _per_corpus(run).values():  # each corpus on its own scale
        check_fit_converged(table if config.cv > 1 else table.iloc[:0], run.targets, config.params, diverged)
    votes = features.comparisons(config.train_split)
    votes = votes if len(votes) else None
    with writing_run_folder(out_dir) as folder:
        write_run_files(run, folder)
        held_out = None
        reference = features.reference if run.corpora else features
        if config.eval_split:
            eval_name = "+".join(config.eval_split)
            predictions = run.predict(reference, config.eval_split)
            truth = truth_from_store(reference.path, config.eval_split)
            if truth.labelled:
                held_out = evaluate_predictions(predictions[["id", *run.targets]], truth, f"{eval_name} predictions",
                                                label=f"{eval_name}, held out · {'+'.join(config.heads)}", bootstrap=bootstrap)
                held_out.seen = seen_unseen(held_out.clips, held_out.targets, training_ids(features, config.train_split),
                                            truth.prompts, bootstrap)
            predictions.to_csv(folder / "eval_predictions.csv", index=False)
        oof = has_oof(run.oof, run.targets)  # none with --cv 1 (one model per head)
        corpora = write_corpus_reports(run, features, folder, plots, bootstrap) if run.corpora else None
        top = next(iter(_per_corpus(run).values()))  # several corpora: the reference corpus's, on its scale
        cv = oof_report(top, run.targets, label=oof_label("+".join(config.train_split), "+".join(config.heads)), bootstrap=bootstrap,
                        corpus=features.corpus, comparisons=votes) if oof else None
        folds = cv_folds(run, features) if oof else None
        write_fit_report(top, run.targets, folder, held_out, plots=plots, heads="+".join(config.heads),
                         train_split="+".join(config.train_split), eval_split="+".join(config.eval_split or []),
                         bootstrap=bootstrap, cv_info=folds, cv=cv)
        write_model_card(folder, name=out_dir.name)  # the folder is staged under another name
        if plots and run.reads_frames and (oof or held_out is not None):
            write_attention_plots(run, features, folder, held_out)
    heads = heads_table(top, run.targets) if len(config.heads) > 1 and oof else None
    return FitOutcome(run, out_dir, cv, heads, held_out, folds, corpora)


def _per_corpus(run: FittedRun) -> dict[str, pd.DataFrame]:
    """The out-of-fold table per corpus of a run of several stores (reference first), else ``{"": the table}``."""
    if not run.corpora:
        return {"": run.oof}
    return {label: run.oof[run.oof["corpus"] == label].reset_index(drop=True) for label in run.corpora}


def write_corpus_reports(run: FittedRun, stores, folder: Path, plots: bool, bootstrap: BootstrapSettings) -> dict[str, dict[str, EvaluationReport]]:
    """Per corpus of a run of several stores, its reports on its own scale and under its own target names in
    ``corpora/<label>/`` (``cv/``, ``eval/``, ``metrics.json``): the out-of-fold predictions of its clips, and its
    held-out split predicted on its scale."""
    config, reports = run.config, {}
    for label, oof in _per_corpus(run).items():
        store, found = stores.stores[label], {}
        names = config.corpora[label]["targets"]
        oof = under_corpus_names(oof, names)
        cv = oof_report(oof, list(names.values()), label=f"{label} · out-of-fold · {'+'.join(config.heads)}", bootstrap=bootstrap,
                        corpus=store.corpus) if has_oof(oof, list(names.values())) else None
        if cv is not None:
            found["out-of-fold"] = cv
        held_out = None
        if config.eval_split:
            truth = truth_from_store(store.path, config.eval_split)
            predictions = run.predict(store, config.eval_split, corpus=label)  # under the corpus's own target names
            theirs = list(names.values())
            truth = replace(truth, clips=truth.clips[["id", "system", *theirs]], targets=theirs, comparisons=None)
            if truth.labelled:
                held_out = evaluate_predictions(predictions[["id", *theirs]], truth, f"{label} {'+'.join(config.eval_split)} predictions",
                                                label=f"{label} · {'+'.join(config.eval_split)}, held out · {'+'.join(config.heads)}", bootstrap=bootstrap)
                found[f"held-out {'+'.join(config.eval_split)}"] = held_out
        write_fit_report(oof, list(names.values()), folder / "corpora" / label, held_out, plots=plots, heads="+".join(config.heads),
                         train_split="+".join(config.train_split), eval_split="+".join(config.eval_split or []), bootstrap=bootstrap, cv=cv)
        reports[label] = found
    return reports


def training_ids(store: FeatureStore, split: list[str]) -> dict[str, set]:
    """The systems and prompts (texts) of the training split, for :func:`~clapmos.evaluation.seen.seen_unseen`."""
    items = store.items(split)
    return {"system": set(items["system"]) - {""}, "prompt": set(items["text"]) - {""}}


def cv_folds(run: FittedRun, store: FeatureStore) -> dict:
    """The grouping of the run's folds and, per fold of its first target, the clips, systems and prompts it held out."""
    target = run.targets[0]
    known = run.oof[target].notna().to_numpy()
    text = store.items(run.config.train_split)["text"].to_numpy()
    folds = getattr(run.models[target], "test_fold_", None)
    if folds is not None and len(folds) == len(run.oof) != known.sum():  # fitted on every row (a head learning from votes)
        known = np.ones(len(run.oof), dtype=bool)
    table = run.oof.assign(text=text)[known].reset_index(drop=True)
    return fold_summary(table, folds if folds is not None else [-1] * len(table), run.config.group)


def write_attention_plots(run: FittedRun, store: FeatureStore, folder: Path, held_out: EvaluationReport | None) -> None:
    """``eval/attention_<target>.png`` (or ``cv/``, from the out-of-fold predictions): where the frame heads listen in the worst-predicted clips."""
    if held_out is not None:
        where, split, clips = folder / "eval", run.config.eval_split, held_out.clips.rename(columns=lambda c: c.removesuffix("_true"))
    else:
        where, split, clips = folder / "cv", run.config.train_split, run.oof
    for target in run.targets:
        worst = worst_clips(clips, target)
        if len(worst):
            table = run.attention(store, split, ids=worst["id"])
            attention_plot(table[table["target"] == target], worst, target, where / f"attention_{target}.png")


def predict_to_file(
    model: str | Path | FittedRun, store: str | Path | FeatureStore, out_file: str | Path, split: list[str] | None = None,
    format: str = "csv", corpus: str | None = None,
) -> pd.DataFrame:
    """Predict ``split`` of ``store`` with the run (folder) ``model`` and write a validated submission file; return the predictions.

    A run of several corpora predicts on the scale of ``corpus`` (default: the store's own corpus in the run)."""
    run = model if isinstance(model, FittedRun) else load_run(model)
    features = store if isinstance(store, FeatureStore) else FeatureStore.open(store)
    predictions = run.predict(features, split, corpus=corpus)
    targets = [c for c in predictions.columns if c not in ("id", "system")] if format == "csv" else None
    write_submission(predictions, Path(out_file), format, expected_ids=features.items(split)["id"], targets=targets)
    return predictions


def report_run(
    folder: str | Path, out_file: str | Path | None = None, store: str | Path | None = None, n_worst: int = 6,
    bootstrap: BootstrapSettings = BootstrapSettings(),
) -> Path:
    """Write the HTML report of a run folder (:mod:`clapmos.evaluation.html_report`): its held-out split when it has one, else out-of-fold.

    The store (default: the one the run was fitted on, as recorded) gives the clips' audio
    files, prompts and, for frame heads, where the heads listen. Returns the page's path
    (default ``<folder>_report.html`` beside the folder: a run folder holds only what ``fit`` wrote).
    """
    from clapmos.evaluation.html_report import write_html_report
    from clapmos.evaluation.truth import Truth
    from clapmos.evaluation.versus import run_clip_table

    folder = Path(folder)
    run = load_run(folder)
    clips, where = run_clip_table(folder)
    targets = [t for t in run.targets if f"{t}_pred" in clips and f"{t}_true" in clips]
    truth = Truth(clips[["id", "system"]].fillna({"system": ""}).assign(**{t: clips[f"{t}_true"] for t in targets}), targets,
                  f"{folder} ({'held-out ' + '+'.join(run.config.eval_split or []) if where == 'held-out' else 'out-of-fold on ' + '+'.join(run.config.train_split)})")
    features = None
    path = Path(store) if store is not None else Path(run.provenance.get("store", ""))
    if store is not None or (path.name and path.exists()):
        features = FeatureStore.open(path)
    audio = prompts = attention = None
    if features is not None:
        items = features.items().set_index("id")
        audio, prompts = items["path"].to_dict(), items["text"].where(items["text"] != "").dropna().to_dict()
        truth = Truth(truth.clips, truth.targets, truth.source, prompts=items["text"].where(items["text"] != ""))
    predictions = clips[["id"]].assign(**{t: clips[f"{t}_pred"] for t in targets})
    report = evaluate_predictions(predictions, truth, "predictions.csv", label=f"{folder.name} · {'+'.join(run.config.heads)} · {where}",
                                  bootstrap=bootstrap)
    if features is not None and run.reads_frames:
        ids = {i for t in targets for i in worst_clips(report.clips.rename(columns={f"{t}_true": t}), t, n_worst)["id"]}
        attention = run.attention(features, None, ids=ids)
    return write_html_report(report, Path(out_file) if out_file is not None else folder.with_name(f"{folder.name}_report.html"),
                             audio=audio, prompts=prompts, attention=attention, n_worst=n_worst)
