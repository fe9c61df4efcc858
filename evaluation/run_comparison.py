"""Compare fitted runs side by side (``cli.py runs DIR...``): settings and metrics, one row per run.

Only a run folder's JSON and CSV files are read (``config.json``, ``provenance.json``,
``metrics.json``), never its models. A run saved before ``metrics.json`` existed gets its
out-of-fold metrics recomputed from ``oof_predictions.csv``. Metric columns are named
``<where>.<level>.<metric>.<target>``: ``where`` is ``oof`` (cross-validated, out-of-fold on
the training split) or ``held-out`` (the run's ``--eval-split``), ``level`` is ``utterance``
or ``system``, ``metric`` one of MSE, LCC, SRCC, KTAU.

>>> import json, tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for name, srcc in (("a", 0.8), ("b", 0.9)):
...     (root / name).mkdir()
...     _ = (root / name / "config.json").write_text(json.dumps({"embedders": ["clap"], "heads": [name], "targets": ["overall"], "cv": 5}))
...     _ = (root / name / "provenance.json").write_text("{}")
...     _ = (root / name / "metrics.json").write_text(json.dumps({"cv": {"system": {"overall": {"SRCC": srcc}}}}))
>>> comparison = compare_runs([root])
>>> comparison.sort, comparison.table["heads"].tolist()
('oof.system.SRCC.overall', ['b', 'a'])
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clapmos.embed.errors import ClapmosError, listing
from clapmos.evaluation.metrics import LEVELS, METRICS

WHERE = {"cv": "oof", "eval": "held-out"}
#: Settings of config.json compared between runs (heads, embedders and features are always shown).
SETTINGS = ("targets", "train_split", "eval_split", "cv", "group", "seeds", "stack", "stack_method", "clip", "screening_tau",
            "random_state", "recipe", "device")
MACHINE_PARAMS = ("n_jobs",)  # --param settings that change how fast a run is, not what it is
SHOWN_METRICS = (("utterance", "SRCC"), ("system", "SRCC"), ("utterance", "MSE"))
LOWER_IS_BETTER = ("MSE",)


@dataclass
class RunComparison:
    """One row per run (best first by ``sort``): what it is, its settings, and its metrics."""

    table: pd.DataFrame
    sort: str
    settings: list[str]  # setting columns whose values differ between the runs
    metrics: list[str]  # metric columns shown by :meth:`markdown`

    def markdown(self, digits: int = 3) -> str:
        """The table with the settings that differ and the main metrics (all columns are in :attr:`table`)."""
        columns = ["run", "heads", "embedders", "features", *self.settings, *self.metrics]
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for _, row in self.table[columns].iterrows():
            lines.append("| " + " | ".join(_cell(row[c], digits) for c in columns) + " |")
        return "\n".join(lines)


    @staticmethod
    def files(out_file: str | Path) -> dict[Path, str]:
        """The files :meth:`write` writes for ``out_file`` (a ``.csv``), with their kinds (see :mod:`clapmos.evaluation.outputs`)."""
        path = Path(out_file)
        return {path: "table:run,heads,embedders", path.with_suffix(".md"): "table:| run | heads |", path.with_suffix(".png"): "png"}

    def write(self, out_file: str | Path, plots: bool = True) -> list[Path]:
        """Write every column as CSV, :meth:`markdown` as ``.md`` and (unless ``plots`` is False) a plot of the sort metric."""
        from clapmos.evaluation.outputs import write_plot, write_table, write_text
        from clapmos.evaluation.plots import bar_plot

        csv, md, png = self.files(out_file)
        write_table(self.table, csv)
        write_text(self.markdown() + "\n", md)
        if not plots or not self.sort:
            return [csv, md]
        _, level, metric, target = self.sort.split(".", 3)
        series = {where: self.table[f"{where}.{level}.{metric}.{target}"] for where in WHERE.values()
                  if f"{where}.{level}.{metric}.{target}" in self.table}
        write_plot(lambda p: bar_plot(self.table["run"].tolist(), series, p, title=f"runs by {self.sort}", xlabel=f"{level} {metric} ({target})"), png)
        return [csv, md, png]


def compare_runs(paths: Sequence[str | Path], sort: str | None = None) -> RunComparison:
    """Read the run folders named by ``paths`` (run folders, or folders holding them) and sort them by ``sort``.

    ``sort`` is a metric column such as ``held-out.system.SRCC.overall``; by default the
    held-out system SRCC of the first run's first target when some run has one, else its
    out-of-fold system SRCC. MSE sorts ascending, the correlations descending, missing last.
    """
    rows = [read_run(folder) for folder in find_runs(paths)]
    table = pd.DataFrame(rows)
    metric_columns = [c for c in table.columns if c.split(".")[0] in WHERE.values()]
    first_target = (rows[0]["targets"] or "").split(",")[0]
    if sort is None:
        sort = next((c for c in (f"held-out.system.SRCC.{first_target}", f"oof.system.SRCC.{first_target}")
                     if c in table and table[c].notna().any()), None)
    elif sort not in metric_columns:
        targets = sorted({c.split(".", 3)[3] for c in metric_columns})
        raise ClapmosError(
            f"--sort {sort}: no run has that metric. Metrics are WHERE.LEVEL.METRIC.TARGET with WHERE {' or '.join(WHERE.values())}, "
            f"LEVEL {' or '.join(LEVELS)}, METRIC one of {', '.join(METRICS)} and TARGET one of {', '.join(targets) or 'none'}; "
            f"e.g. oof.system.SRCC.{targets[0] if targets else 'overall'}."
        )
    if sort is not None:
        table = table.sort_values(sort, ascending=sort.split(".")[2] in LOWER_IS_BETTER, na_position="last", kind="stable")
    setting_columns = [c for c in table.columns if c in SETTINGS or c.startswith(("param:", "checkpoint:", "window_s:", "corpus"))]
    differ = [c for c in setting_columns if table[c].map(lambda v: _cell(v, 12)).nunique() > 1]
    targets = list(dict.fromkeys(t for r in rows for t in (r["targets"] or "").split(",") if t))
    shown = [f"{where}.{level}.{metric}.{target}" for target in targets for level, metric in SHOWN_METRICS for where in WHERE.values()]
    shown = [c for c in shown if c in table and table[c].notna().any()]
    if sort is not None:
        shown = [sort, *(c for c in shown if c != sort)]
    return RunComparison(table.reset_index(drop=True), sort or "", differ, shown)


def find_runs(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders (holding ``config.json``) among ``paths`` and their subfolders, in the order given."""
    found, empty = [], []
    for path in map(Path, paths):
        if (path / "config.json").is_file():
            found.append(path)
        elif path.is_dir() and (inner := sorted(p.parent for p in path.glob("*/config.json"))):
            found += inner
        else:
            empty.append(str(path))
    if empty:
        raise ClapmosError(f"no run folder (with config.json) at or directly under:\n{listing(empty)}\nPass folders written by `cli.py fit --out`.")
    return list(dict.fromkeys(found))


def read_run(folder: Path) -> dict:
    """One row of the comparison: the run's heads, embedders, features, settings and metrics."""
    config = _json(folder / "config.json")
    provenance = _json(folder / "provenance.json") if (folder / "provenance.json").is_file() else {}
    if "embedder" in config:  # runs saved before several embedders
        config["embedders"] = [config.pop("embedder")]
        provenance = {"embedders": {config["embedders"][0]: provenance}}
    if not isinstance(config.get("heads"), list) or not isinstance(config.get("embedders"), list):
        raise ClapmosError(f"{folder / 'config.json'} has no list of heads and embedders: it was written by an incompatible clapmos version.")
    row = {
        "run": str(folder),
        "heads": "+".join(config["heads"]),
        "embedders": "+".join(config["embedders"]),
        "features": _features(config.get("features")),
    }
    for key in SETTINGS:
        value = config.get(key)
        row[key] = ",".join(map(str, value)) if isinstance(value, list) else value
    used = sorted(set((provenance.get("folds_used") or {}).values()))
    if used and used != [config.get("cv")]:  # the folds the run was fitted with, when fewer than asked for
        row["cv"] = f"{','.join(map(str, used))} ({config.get('cv')} asked)"
    row |= {f"param:{k}": str(v) for k, v in sorted((config.get("params") or {}).items()) if k.rpartition(".")[2] not in MACHINE_PARAMS}
    for embedder, attrs in (provenance.get("embedders") or {}).items():
        row[f"checkpoint:{embedder}"] = attrs.get("checkpoint", "")
        row[f"window_s:{embedder}"] = attrs.get("window_s")
    row["corpus"] = provenance.get("corpus", "")
    return row | _metrics(folder, config.get("targets") or [])


def _features(features) -> str:
    """The feature blocks as given: one list for every target, or ``target=blocks;...``.

    >>> _features({"overall": ["audio"], "textual": ["audio", "text"]}), _features(None)
    ('overall=audio;textual=audio,text', 'default')
    """
    if isinstance(features, dict):
        return ";".join(f"{target}={','.join(blocks)}" for target, blocks in features.items())
    return ",".join(features or []) or "default"


def _metrics(folder: Path, targets: list[str]) -> dict[str, float]:
    """``{where.level.metric.target: value}`` from metrics.json, or recomputed from the out-of-fold predictions."""
    if (folder / "metrics.json").is_file():
        metrics = _json(folder / "metrics.json")
    elif (folder / "oof_predictions.csv").is_file() and targets:
        metrics = {"cv": _oof_metrics(folder / "oof_predictions.csv", targets)}
    else:
        return {}
    values = {}
    for key, where in WHERE.items():
        for level in LEVELS:
            for target, entry in ((metrics.get(key) or {}).get(level) or {}).items():
                for metric in METRICS:
                    value = entry.get(metric)
                    values[f"{where}.{level}.{metric}.{target}"] = math.nan if value is None else float(value)
    return values


def _oof_metrics(path: Path, targets: list[str]) -> dict:
    import warnings

    from clapmos.evaluation.fit_report import oof_report
    from clapmos.evaluation.intervals import BootstrapSettings

    oof = pd.read_csv(path, dtype={"id": str, "system": str}, keep_default_na=False, na_values=[""])
    present = [t for t in targets if t in oof and f"{t}_pred" in oof and oof[t].notna().any()]
    if not present:  # no target, or a run trained on votes only (its figures are in metrics.json)
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a degenerate metric is NaN in the table
        return oof_report(oof, present, bootstrap=BootstrapSettings(0)).summary()["metrics"]  # values only


def _json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ClapmosError(f"{path}: cannot read it as JSON ({error}).") from None
    if not isinstance(value, dict):
        raise ClapmosError(f"{path}: expected a JSON object; it was written by an incompatible clapmos version.")
    return value


def _cell(value: object, digits: int) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{digits}f}"
    return "" if value is None or value is pd.NA else str(value)
