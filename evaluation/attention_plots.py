"""Where a frame head listens: attention weights over time for the clips it predicts worst.

Inputs are plain tables, so this never depends on how the weights were computed:
``clips`` with ``id``, the truth ``<target>`` and the prediction ``<target>_pred``;
``attention`` with one row per token, ``id``, ``time`` (s) and ``weight``
(``clapmos.heads.runs.run.FittedRun.attention`` gives it).

>>> import pandas as pd, tempfile, pathlib
>>> clips = pd.DataFrame({"id": ["a", "b", "c"], "overall": [1.0, 3.0, 5.0], "overall_pred": [1.2, 4.5, 4.9]})
>>> worst_clips(clips, "overall", n=1)["id"].tolist()
['b']
>>> attention = pd.DataFrame({"id": ["b"] * 4, "time": [0.0, 0.2, 0.4, 0.6], "weight": [0.1, 0.6, 0.2, 0.1]})
>>> path = pathlib.Path(tempfile.mkdtemp()) / "attention.png"
>>> attention_plot(attention, worst_clips(clips, "overall", n=1), "overall", path).suffix
'.png'
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def worst_clips(clips: pd.DataFrame, target: str, n: int = 6) -> pd.DataFrame:
    """The ``n`` clips with the largest absolute error on ``target`` (labelled ones only), worst first."""
    known = clips[clips[target].notna() & clips[f"{target}_pred"].notna()]
    error = (known[f"{target}_pred"] - known[target]).abs()
    return known.assign(error=error).sort_values("error", ascending=False, kind="stable").head(n).reset_index(drop=True)


def attention_plot(attention: pd.DataFrame, clips: pd.DataFrame, target: str, path: str | Path, title: str | None = None) -> Path:
    """One panel per clip of ``clips`` (in order): its tokens' attention weights against time; returns ``path``.

    A dashed line marks the uniform weight (1 / tokens): above it the head listens more
    than a mean would, below it less.
    """
    n = max(len(clips), 1)
    columns = min(3, n)
    rows = math.ceil(n / columns)
    figure = Figure(figsize=(4.2 * columns, 2.6 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    for k, clip in enumerate(clips.itertuples(index=False)):
        axes = figure.add_subplot(rows, columns, k + 1)
        tokens = attention[attention["id"] == clip.id].sort_values("time")
        times, weights = tokens["time"].to_numpy(), tokens["weight"].to_numpy()
        step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
        axes.bar(times, weights, width=step, align="edge", color="tab:blue", alpha=0.8)
        if len(weights):
            axes.axhline(1.0 / len(weights), color="grey", linestyle="--", linewidth=1)
        truth, prediction = getattr(clip, target), getattr(clip, f"{target}_pred")
        axes.set_title(f"{clip.id}\n{target}: truth {truth:.2f}, predicted {prediction:.2f}", fontsize=8)
        axes.set_xlabel("time (s)", fontsize=8)
        axes.set_ylabel("attention", fontsize=8)
        axes.tick_params(labelsize=7)
    figure.suptitle(title or f"where the head listens: the {len(clips)} worst-predicted clips ({target})", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path
