"""Compare generating systems by their clips' predicted scores, with bootstrap intervals.

For every system and target: the mean predicted score of its clips, and a percentile
bootstrap interval over clips (clips resampled with replacement within the system, the
systems kept: :func:`clapmos.evaluation.bootstrap.draw_systems` with ``resample_systems=False``). For every ordered pair of systems, the *share ahead*: in how many of the
paired bootstrap draws the first system's mean is above the second's (ties count half).
With ``n_draws`` draws and a fixed ``seed`` the numbers are reproducible. The interval is
about the clips scored: it says how sure the ranking is given these clips, not how right the
predictor is. A system with fewer than :data:`MIN_CLIPS` clips gets its mean only: no interval
and no share ahead (with two clips a 95 % percentile interval is just their minimum and
maximum, and one clip would look certainly ahead or behind).

>>> import pandas as pd
>>> scores = pd.DataFrame({"system": ["A"] * 5 + ["B"] * 5, "overall": [4.0, 4.2, 3.9, 4.1, 4.0, 2.0, 2.4, 2.1, 2.2, 2.3]})
>>> comparison = compare_systems(scores, ["overall"], n_draws=500, seed=0)
>>> comparison.table[["system", "clips", "mean"]].to_dict("list")
{'system': ['A', 'B'], 'clips': [5, 5], 'mean': [4.04, 2.2]}
>>> comparison.share_ahead("overall", "A", "B")
1.0
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clapmos.evaluation.bootstrap import draw_systems, percentile_interval
from clapmos.evaluation.paired import share_ahead

TABLE_COLUMNS = ["target", "system", "clips", "mean", "low", "high"]
AHEAD_COLUMNS = ["target", "system", "other", "share_ahead"]
MIN_CLIPS = 5  # fewer clips in a system: its mean only, no interval and no share ahead


class SystemWarning(UserWarning):
    """A system has too few clips for an interval."""


@dataclass
class SystemComparison:
    """Per-system means with intervals (``table``) and pairwise shares ahead (``ahead``), per target."""

    table: pd.DataFrame  # TABLE_COLUMNS; per target, systems by descending mean
    ahead: pd.DataFrame  # AHEAD_COLUMNS; every ordered pair of systems per target
    targets: list[str]
    n_draws: int
    confidence: float
    seed: int

    def share_ahead(self, target: str, system: str, other: str) -> float:
        """The share of draws in which ``system``'s mean ``target`` score is above ``other``'s."""
        rows = self.ahead[(self.ahead["target"] == target) & (self.ahead["system"] == system) & (self.ahead["other"] == other)]
        return float(rows["share_ahead"].iloc[0])

    def matrix(self, target: str) -> pd.DataFrame:
        """Shares ahead of ``target`` as a square table: row system ahead of column system (systems by descending mean)."""
        order = self.table[self.table["target"] == target]["system"].tolist()
        rows = self.ahead[self.ahead["target"] == target]
        square = rows.pivot(index="system", columns="other", values="share_ahead")
        return square.reindex(index=order, columns=order)

    def markdown(self, digits: int = 2) -> str:
        """The per-system table: one row per system (ordered by the first target), mean and interval per target."""
        percent = f"{self.confidence:.0%}"
        order = self.table[self.table["target"] == self.targets[0]]["system"].tolist()
        header = ["system", "clips"] + [f"{t} ({percent} interval)" for t in self.targets]
        lines = ["| " + " | ".join(header) + " |", "|---|---:|" + "---|" * len(self.targets)]
        indexed = self.table.set_index(["target", "system"])
        for system in order:
            cells = [system, str(int(indexed.loc[(self.targets[0], system), "clips"]))]
            for target in self.targets:
                if (target, system) not in indexed.index:
                    cells.append("")
                    continue
                row = indexed.loc[(target, system)]
                interval = "no interval" if math.isnan(row["low"]) else f"[{row['low']:.{digits}f}, {row['high']:.{digits}f}]"
                cells.append(f"{row['mean']:.{digits}f} {interval}")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    @staticmethod
    def files(scores_file: str | Path) -> dict[Path, str]:
        """The files :meth:`write` writes beside ``scores_file``, with their kinds (see :mod:`clapmos.evaluation.outputs`)."""
        path = Path(scores_file)
        return {
            path.with_name(f"{path.stem}_systems.csv"): "table:" + ",".join(TABLE_COLUMNS),
            path.with_name(f"{path.stem}_ahead.csv"): "table:" + ",".join(AHEAD_COLUMNS),
            path.with_name(f"{path.stem}_systems.png"): "png",
        }

    def write(self, scores_file: str | Path, plots: bool = True) -> list[Path]:
        """Write the table, the shares ahead and (unless ``plots`` is False) the plot beside ``scores_file``."""
        from clapmos.evaluation.outputs import write_plot, write_table
        from clapmos.evaluation.plots import interval_plot

        table, ahead, plot = self.files(scores_file)
        write_table(self.table, table)
        write_table(self.ahead, ahead)
        if not plots:
            return [table, ahead]
        title = f"systems of {Path(scores_file).name}"
        write_plot(lambda p: interval_plot(self.table, p, title=title, targets=self.targets, confidence=self.confidence), plot)
        return [table, ahead, plot]

    def matrix_markdown(self, target: str, digits: int = 2) -> str:
        """:meth:`matrix` as Markdown; the diagonal is left blank."""
        square = self.matrix(target)
        lines = ["| ahead of → | " + " | ".join(square.columns) + " |", "|---|" + "---:|" * len(square.columns)]
        for system, row in square.iterrows():
            cells = ["" if other == system else ("too few clips" if math.isnan(value) else f"{value:.{digits}f}") for other, value in row.items()]
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def compare_systems(
    scores: pd.DataFrame,
    targets: Sequence[str],
    n_draws: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    system_column: str = "system",
) -> SystemComparison:
    """Bootstrap the mean of every system's clip scores (``scores[target]``; NaN scores are left out).

    A system with fewer than :data:`MIN_CLIPS` clips gets its mean and no interval (NaN
    bounds, with a :class:`SystemWarning`), and its shares ahead are NaN.
    """
    if n_draws < 1:
        raise ValueError(f"n_draws must be at least 1, got {n_draws}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence}")
    rng = np.random.default_rng(seed)
    tables, aheads = [], []
    for target in targets:
        known = scores[scores[target].notna() & (scores[system_column].astype(str) != "")]
        names, codes = np.unique(known[system_column].astype(str).to_numpy(), return_inverse=True)
        values = known[target].to_numpy(dtype=np.float64)
        # clips resampled within each system, the systems kept: the one bootstrap of clapmos.evaluation.bootstrap
        means = draw_systems(codes.ravel(), n_draws, rng, resample_systems=False).pairs(values, values)[1] if len(names) else None
        rows, draws = [], {}
        for j, system in enumerate(names):
            clips = values[codes.ravel() == j]
            draws[system] = means[:, j]
            low, high = percentile_interval(draws[system], confidence)
            if len(clips) < MIN_CLIPS:
                draws[system] = None
                low = high = math.nan
                warnings.warn(f"system {system} has {len(clips)} clip(s) with a {target} score, fewer than {MIN_CLIPS}: "
                              "no interval and no share ahead", SystemWarning, stacklevel=2)
            rows.append({"target": target, "system": str(system), "clips": len(clips), "mean": float(clips.mean()), "low": low, "high": high})
        table = pd.DataFrame(rows, columns=TABLE_COLUMNS).sort_values("mean", ascending=False, kind="stable")
        tables.append(table)
        aheads.append(pd.DataFrame(
            [{"target": target, "system": str(a), "other": str(b),
              "share_ahead": math.nan if draws[a] is None or draws[b] is None else share_ahead(draws[a], draws[b])}
             for a in draws for b in draws if a != b],
            columns=AHEAD_COLUMNS,
        ))
    return SystemComparison(
        pd.concat(tables, ignore_index=True), pd.concat(aheads, ignore_index=True), list(targets), n_draws, confidence, seed
    )
