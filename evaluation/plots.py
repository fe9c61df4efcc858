"""Scatter plots of prediction against truth, written straight to PNG (never a window).

Figures are built with :class:`matplotlib.figure.Figure` and its Agg canvas, so plotting
neither needs a display nor touches pyplot's global state.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "scatter.png"
>>> scatter_plot([1.0, 2.0, 3.0], [1.2, 1.9, 3.3], path, title="utterance overall",
...              metrics={"MSE": 0.047, "SRCC": 1.0}).suffix
'.png'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def scatter_plot(
    truth: Sequence[float],
    prediction: Sequence[float],
    path: str | Path,
    *,
    title: str,
    metrics: Mapping[str, float] | None = None,
    labels: Sequence[str] | None = None,
    digits: int = 3,
) -> Path:
    """Save a scatter of ``prediction`` against ``truth`` with the identity line; return ``path``.

    The metric values, when given, are appended to the title; ``labels`` (e.g. system
    ids) are written next to their points.
    """
    truth, prediction = np.asarray(truth, dtype=float), np.asarray(prediction, dtype=float)
    figure = Figure(figsize=(4.8, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.scatter(truth, prediction, s=12, alpha=0.6, edgecolors="none")
    for label, x, y in zip(labels if labels is not None else [], truth, prediction):
        axes.annotate(str(label), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7, color="dimgrey")
    finite = np.concatenate([truth, prediction])
    finite = finite[np.isfinite(finite)]
    if len(finite):
        low, high = finite.min(), finite.max()
        pad = 0.05 * (high - low or 1.0)
        axes.plot([low - pad, high + pad], [low - pad, high + pad], color="grey", linewidth=1, linestyle="--")
        axes.set_xlim(low - pad, high + pad)
        axes.set_ylim(low - pad, high + pad)
    axes.set_aspect("equal")
    axes.set_xlabel("truth")
    axes.set_ylabel("prediction")
    if metrics:
        title += "\n" + "  ".join(f"{name} {value:.{digits}f}" for name, value in metrics.items())
    axes.set_title(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path


#: PNG text chunk that marks a figure as written by clapmos (so that it may be replaced, and nothing else is).
PNG_MARK = {"Software": "clapmos"}


def interval_plot(table, path: str | Path, *, title: str, targets: Sequence[str], confidence: float = 0.95) -> Path:
    """Save one panel per target: each system's mean with its interval, best at the top; return ``path``.

    ``table`` has columns ``target``, ``system``, ``clips``, ``mean``, ``low``, ``high``
    (:class:`evaluation.systems.SystemComparison.table`); systems without an interval are
    drawn as a point.
    """
    n_systems = table["system"].nunique()
    figure = Figure(figsize=(4.2 * len(targets), 1.2 + 0.32 * n_systems), layout="constrained")
    FigureCanvasAgg(figure)
    for index, target in enumerate(targets):
        axes = figure.add_subplot(1, len(targets), index + 1)
        rows = table[table["target"] == target].iloc[::-1]  # best at the top
        y = np.arange(len(rows))
        mean = rows["mean"].to_numpy(dtype=float)
        error = np.vstack([mean - rows["low"].to_numpy(dtype=float), rows["high"].to_numpy(dtype=float) - mean])
        axes.errorbar(mean, y, xerr=np.nan_to_num(error), fmt="o", color="tab:blue", ecolor="tab:blue", capsize=3, markersize=4)
        axes.set_yticks(y, [f"{s} ({n})" for s, n in zip(rows["system"], rows["clips"])], fontsize=8)
        axes.set_xlabel(f"mean predicted {target}")
        axes.grid(axis="x", color="0.9")
        axes.set_title(target, fontsize=10)
    figure.suptitle(f"{title}\n(mean over clips, {confidence:.0%} bootstrap interval; clips in brackets)", fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, metadata=PNG_MARK)
    return path


def bar_plot(labels: Sequence[str], series: Mapping[str, Sequence[float]], path: str | Path, *, title: str, xlabel: str) -> Path:
    """Save horizontal bars, one group per label (first at the top) and one bar per series; return ``path``."""
    figure = Figure(figsize=(6.4, 1.2 + 0.3 * len(labels) * max(1, len(series))), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    height = 0.8 / max(1, len(series))
    y = np.arange(len(labels))[::-1].astype(float)
    for k, (name, values) in enumerate(series.items()):
        axes.barh(y + (len(series) - 1 - 2 * k) * height / 2, np.asarray(values, dtype=float), height=height, label=name)
    axes.set_yticks(y, list(labels), fontsize=8)
    axes.set_xlabel(xlabel)
    axes.grid(axis="x", color="0.9")
    if len(series) > 1:
        axes.legend(fontsize=8)
    axes.set_title(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, metadata=PNG_MARK)
    return path
