"""Paired comparisons of scored prediction tables: ``evaluate --against`` and ``runs A B ...``.

A *clip table* is what ``evaluate`` writes as ``predictions.csv`` (and a run folder holds as
``eval/predictions.csv`` and ``cv/predictions.csv``): ``id``, ``system``, and per target
``<t>_true`` and ``<t>_pred``. The tables are joined on the ids they all have (their truths must
agree there) and compared with :func:`clapmos.evaluation.paired.compare_predictions`.

>>> import pandas as pd
>>> a = pd.DataFrame({"id": list("abcdef"), "system": list("XXYYZZ"), "overall_true": [1.0, 2, 3, 4, 5, 6],
...                   "overall_pred": [1.0, 2, 3, 4, 5, 6]})
>>> b = a.assign(overall_pred=[2.0, 1, 4, 3, 6, 5])
>>> table = compare_clip_tables({"a": a, "b": b}, ["overall"], BootstrapSettings(200), metrics=["MSE"])
>>> table[["level", "a", "b", "difference"]].to_dict("list")
{'level': ['utterance', 'system'], 'a': ['a', 'a'], 'b': ['b', 'b'], 'difference': [-1.0, 0.0]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clapmos.embed.errors import ClapmosError
from clapmos.evaluation.intervals import BootstrapSettings
from clapmos.evaluation.metrics import METRICS
from clapmos.evaluation.paired import compare_predictions


def compare_clip_tables(
    tables: Mapping[str, pd.DataFrame],
    targets: Sequence[str],
    settings: BootstrapSettings = BootstrapSettings(),
    *,
    prompts: pd.Series | None = None,
    system_truth: pd.DataFrame | None = None,
    metrics: Sequence[str] = METRICS,
) -> pd.DataFrame:
    """Paired bootstrap comparison of every pair of ``tables`` on their common clips and targets."""
    names = list(tables)
    targets = [t for t in targets if all(f"{t}_pred" in tables[n] and f"{t}_true" in tables[n] for n in names)]
    if not targets:
        raise ClapmosError(f"{', '.join(names)}: no target is predicted and known in all of them, so there is nothing to compare")
    first = tables[names[0]].drop_duplicates("id")
    merged = first[["id", "system", *[f"{t}_true" for t in targets]]].copy()
    merged["system"] = merged["system"].fillna("").astype(str)
    for name in names:
        table = tables[name].drop_duplicates("id")
        merged = merged.merge(table[["id", *[f"{t}_true" for t in targets], *[f"{t}_pred" for t in targets]]]
                              .rename(columns=lambda c, n=name: c if c == "id" else f"{c}@{n}"), on="id", how="inner")
    if merged.empty:
        raise ClapmosError(f"{', '.join(names)} have no clip id in common: compare predictions of the same clips")
    for name in names[1:]:
        for t in targets:
            differ = ~np.isclose(merged[f"{t}_true@{name}"], merged[f"{t}_true"], equal_nan=True)
            if differ.any():
                raise ClapmosError(
                    f"{name} and {names[0]} disagree on the true {t} of {int(differ.sum())} common clip(s), e.g. "
                    f"{merged['id'][differ].iloc[0]}: they were not scored against the same truth"
                )
    truth = merged[[f"{t}_true" for t in targets]].set_axis(targets, axis=1)
    predictions = {n: merged[[f"{t}_pred@{n}" for t in targets]].set_axis(targets, axis=1) for n in names}
    systems = merged["system"].where(merged["system"] != "")
    systems = None if systems.isna().all() else systems.to_numpy()
    groups = None if prompts is None else prompts.reindex(merged["id"]).to_numpy(dtype=object)
    return compare_predictions(truth, predictions, systems, groups=groups, system_truth=system_truth, settings=settings, metrics=metrics)


def run_clip_table(folder: str | Path) -> tuple[pd.DataFrame, str]:
    """A run folder's held-out clip table (``eval/predictions.csv``) or else its out-of-fold one, and which it is (held-out, oof)."""
    folder = Path(folder)
    path = folder / "eval" / "predictions.csv"
    if path.is_file():
        return pd.read_csv(path, dtype={"id": str, "system": str}, keep_default_na=False, na_values=[""]), "held-out"
    return _oof_table(folder)


def paired_runs(folders: Sequence[str | Path], settings: BootstrapSettings = BootstrapSettings()) -> tuple[pd.DataFrame, str]:
    """Paired comparison of run folders on their common clips: held-out predictions when every run has them, else out-of-fold."""
    tables = {str(folder): run_clip_table(folder) for folder in folders}
    kinds = {where for _, where in tables.values()}
    where = "held-out" if kinds == {"held-out"} else "oof"
    if where == "oof" and "held-out" in kinds:  # mixed: compare the out-of-fold predictions, which every run has
        tables = {name: _oof_table(Path(name)) for name in tables}
    clips = {name: table for name, (table, _) in tables.items()}
    targets = list(dict.fromkeys(c.removesuffix("_pred") for table in clips.values() for c in table.columns if c.endswith("_pred")))
    return compare_clip_tables(clips, targets, settings), where


def _oof_table(folder: Path) -> tuple[pd.DataFrame, str]:
    """The out-of-fold clip table: ``cv/predictions.csv``, or a run's ``oof_predictions.csv`` (``<t>`` is the truth)."""
    read = {"dtype": {"id": str, "system": str}, "keep_default_na": False, "na_values": [""]}
    if (folder / "cv" / "predictions.csv").is_file():
        return pd.read_csv(folder / "cv" / "predictions.csv", **read), "oof"
    if (folder / "oof_predictions.csv").is_file():
        oof = pd.read_csv(folder / "oof_predictions.csv", **read)
        targets = [c.removesuffix("_pred") for c in oof.columns if c.endswith("_pred") and c.removesuffix("_pred") in oof]
        return oof[["id", "system", *targets, *(f"{t}_pred" for t in targets)]].rename(columns={t: f"{t}_true" for t in targets}), "oof"
    raise ClapmosError(f"{folder} has no cv/predictions.csv or oof_predictions.csv, so it cannot be compared clip by clip")
