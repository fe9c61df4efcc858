"""`clapmos fit`, `predict` and `score-zero-shot`: heads fitted on a store, and what they (or a cosine) predict for it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from clapmos.embed.command_line import (
    check_device,
    check_out_files,
    err,
    known_embedder,
    known_splits,
    open_store,
    out,
    print_table,
    reported_warnings,
    split_list,
    submission_format,
    user_errors,
)
from clapmos.embed.errors import ClapmosError
from clapmos.evaluation.commands.evaluating import print_seen
from clapmos.embed.filesystems import is_url, location
from clapmos.embed.threads import DEFAULT_THREADS
from clapmos.heads.registry import HEAD_NAMES
from clapmos.heads.runs.fit_options import explicit_fields, known_heads, parse_clip, parse_features, parse_params


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
    device: Annotated[Optional[str], typer.Option(callback=check_device, help="Where the torch heads train: cpu, cuda, cuda:N or auto (default: each head's own setting, the CPU).")] = None,
    draws: Annotated[int, typer.Option(min=0, help="Bootstrap draws for the interval of every metric (two-level systems/clips at system level); 0: no intervals. Seeded by --seed.")] = 1000,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Level of the metric intervals.")] = 0.95,
    pretrain_store: Annotated[Optional[Path], typer.Option(help="Store of unrated (prompt, audio) pairs embedded like --store: the torch heads first learn their pseudo-labels (the CLAP audio-text cosine), then fine-tune on the ratings. Off by default.")] = None,
    pretrain_embedder: Annotated[Optional[str], typer.Option(help="Embedder whose audio-text cosine is the pseudo-label (default: the first --embedder with text).")] = None,
    target_map: Annotated[Optional[list[str]], typer.Option(metavar="CORPUS:THEIRS=OURS", help="With several --store: store CORPUS's target THEIRS is the run's target OURS (the first store's), e.g. mytest:mos=overall. Targets are never matched by guess: a store lacking a target under the run's name needs one. Repeatable.")] = None,
) -> None:
    """Fit cross-validated heads on cached features; print out-of-fold (and held-out) metrics; save the run.

    The frame heads (attn_mlp, xattn) need the embedder's frame tokens in the store (`embed --frames`).
    """
    known_heads(head if recipe is None or "heads" in explicit_fields(ctx) else "")  # names first: answered before any heavy import
    if recipe is not None:
        from clapmos.heads.runs.recipes import recipe as known_recipe

        known_recipe(recipe)
    if target_map and len(store) < 2:
        raise ClapmosError("--target-map maps the targets of a second --store onto the first's; give several --store")
    features_store = open_store(store[0])  # the quick checks first: no heavy import before them
    corpora = _open_corpora(store) if len(store) > 1 else None
    from clapmos.heads.runs.folder import check_run_destination

    out_dir = location(out_dir)
    if is_url(out_dir):  # a run on object storage: written here, uploaded whole when complete
        from clapmos.embed.filesystems import check_run_url

        check_run_url(str(out_dir))
    else:
        check_run_destination(out_dir)
    values = dict(
        embedders=split_list(embedder) or [],
        heads=split_list(head) or [],
        targets=list(target) if target else None,
        features=parse_features(features),
        train_split=split_list(train_split),
        eval_split=split_list(eval_split),
        cv=cv,
        group=group,
        seeds=seeds,
        stack=stack,
        screening_tau=screening_tau,
        params=parse_params(param),
        random_state=seed,
        stack_method=stack_method,
        clip=parse_clip(clip),
        device=device,
        pretrain_store=None if pretrain_store is None else str(open_store(pretrain_store, "--pretrain-store").path),
        pretrain_embedder=pretrain_embedder,
    )
    if recipe is not None:
        from clapmos.heads.runs.recipes import apply_recipe

        values = apply_recipe(recipe, values, explicit_fields(ctx))
    if "stack_method" in explicit_fields(ctx) and (len(values["heads"]) < 2 or not values["stack"]):
        why = "--average averages the heads instead" if values["stack"] is False else f"--head {','.join(values['heads'])} is one head"
        raise ClapmosError(f"--stack-method {stack_method} says how several heads are combined, and {why}: it would be ignored. "
                           "Drop --stack-method, or give several heads (--head ridge,mlp).")
    for one in (corpora or {"": features_store}).values():
        known_embedder(one, ",".join(values["embedders"]))
        known_splits(one, values["train_split"], "--train-split")
        known_splits(one, values["eval_split"], "--eval-split")
    if corpora is not None:
        from clapmos.heads.runs.corpora import check_corpora, corpora_config, parse_target_maps

        if "heads" not in explicit_fields(ctx) and recipe is None:
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
        print_folds(outcome.cv_folds)
        print_table(f"cross-validated ({run.models[run.targets[0]].n_splits_}-fold, out-of-fold) on {'+'.join(config.train_split)}",
                     markdown_table(outcome.cv.results))
    else:
        out.print(f"one model per head trained on the whole of {'+'.join(config.train_split)} (--cv 1): no out-of-fold scores", highlight=False)
    if outcome.heads is not None:
        print_table("per head (out-of-fold)", heads_markdown(outcome.heads))
    if outcome.held_out is not None:
        print_table(f"held-out split {'+'.join(config.eval_split)}", markdown_table(outcome.held_out.results))
        print_seen(outcome.held_out.seen)
    for label, reports in (outcome.corpora or {}).items():
        for where, report in reports.items():
            print_table(f"corpus {label}, on its own scale: {where}", markdown_table(report.results))
    out.print(f"\nsaved the run to {out_dir}", highlight=False)



def _open_corpora(paths: list[Path]) -> dict:
    """Several --store: each opened (errors name the store), by corpus label (the folder name), in the order given."""
    from clapmos.heads.runs.corpora import corpus_label

    stores: dict = {}
    for path in paths:
        label = corpus_label(location(path))
        if label in stores:
            raise ClapmosError(f"--store {path}: another store is also named {label!r} ({stores[label].path}); a store's corpus is its "
                               "folder name, so give each store its own name")
        stores[label] = open_store(path)
    return stores


def print_folds(info: dict) -> None:
    """What each cross-validation fold held out, and the grouping that decided it."""
    folds = info.get("folds") or []
    if not folds:
        return
    held = ", ".join(f"{f.get('systems_held_out', '?')}/{f.get('systems', '?')}" for f in folds)
    out.print(f"\nfolds grouped by {info['group']}: systems held out whole per fold {held}"
              + (" (ungrouped folds see every system in training: optimistic for unseen systems; --group system)" if info["group"] == "none" else ""),
              highlight=False, soft_wrap=True)




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

    submission_format(format, tuple(FORMATS))
    check_out_files([out_file])
    features_store = open_store(store)
    splits = known_splits(features_store, split_list(split))
    from clapmos.evaluation.pipeline import predict_to_file
    from clapmos.heads.runs.run import load_run

    try:
        run = load_run(location(model))
    except ClapmosError as error:
        raise ClapmosError(f"--model {error}") from None
    predictions = predict_to_file(run, features_store, out_file, split=splits, format=format, corpus=corpus)
    out.print(f"wrote {len(predictions)} predictions of {', '.join(run.targets)} to {out_file} ({format})", highlight=False)



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
        check_out_files([out_file])
    features_store = open_store(store)
    known_embedder(features_store, embedder)
    splits = known_splits(features_store, split_list(split))
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
        print_table("zero-shot cosine against the labels (MSE is not meaningful here)", markdown_table(results))
