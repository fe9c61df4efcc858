"""Scatter plots of prediction against truth, written straight to PNG (never a window).

Figures are built with :class:`matplotlib.figure.Figure` and its Agg canvas, so plotting
neither needs a display nor touches pyplot's global state. Point labels (system ids) are
placed one by one at the first of several positions around their point where they overlap
no label placed before and stay inside the axes, so they are neither stacked nor clipped.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "scatter.png"
>>> scatter_plot([1.0, 2.0, 3.0], [1.2, 1.9, 3.3], path, title="dev · ridge\\nutterance level, overall",
...              metrics={"MSE": 0.047, "SRCC": 1.0}).suffix
'.png'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

# Offsets (points) tried in turn for a label: right, above, left, below, then diagonals further out.
LABEL_OFFSETS = [(4, 2), (0, 6), (-4, 2), (0, -9), (4, -9), (-4, -9), (4, 8), (-4, 8), (10, 0), (-10, 0), (0, 14), (0, -16)]


def scatter_figure(
    truth: Sequence[float],
    prediction: Sequence[float],
    *,
    title: str,
    metrics: Mapping[str, float] | None = None,
    labels: Sequence[str] | None = None,
    digits: int = 3,
) -> Figure:
    """A scatter of ``prediction`` against ``truth`` with the identity line.

    ``title`` (what was predicted: split, level, target, head) heads the plot, with the
    metric values, when given, on the line below; ``labels`` (e.g. system ids) are written
    next to their points without overlapping.
    """
    truth, prediction = np.asarray(truth, dtype=float), np.asarray(prediction, dtype=float)
    figure = Figure(figsize=(5.2, 5.4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.scatter(truth, prediction, s=14, alpha=0.6, edgecolors="none")
    finite = np.concatenate([truth, prediction])
    finite = finite[np.isfinite(finite)]
    if len(finite):
        low, high = finite.min(), finite.max()
        pad = (0.12 if labels is not None else 0.05) * (high - low or 1.0)  # room for labels at the edges
        axes.plot([low - pad, high + pad], [low - pad, high + pad], color="grey", linewidth=1, linestyle="--")
        axes.set_xlim(low - pad, high + pad)
        axes.set_ylim(low - pad, high + pad)
    axes.set_aspect("equal")
    axes.set_xlabel("truth")
    axes.set_ylabel("prediction")
    if metrics:
        title += "\n" + "  ".join(f"{name} {value:.{digits}f}" for name, value in metrics.items())
    axes.set_title(title, fontsize=9, wrap=True)
    if labels is not None and len(labels):
        figure.canvas.draw()  # fixes the layout, so label positions can be measured
        figure.set_layout_engine("none")
        _place_labels(figure, axes, truth, prediction, [str(label) for label in labels])
    return figure


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
    """Save :func:`scatter_figure` as a PNG at ``path``; return ``path``."""
    figure = scatter_figure(truth, prediction, title=title, metrics=metrics, labels=labels, digits=digits)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path


#: PNG text chunk that marks a figure as written by clapmos (so that it may be replaced, and nothing else is).
PNG_MARK = {"Software": "clapmos"}


def interval_plot(table, path: str | Path, *, title: str, targets: Sequence[str], confidence: float = 0.95) -> Path:
    """Save one panel per target: each system's mean with its interval, best at the top; return ``path``.

    ``table`` has columns ``target``, ``system``, ``clips``, ``mean``, ``low``, ``high``
    (:class:`clapmos.evaluation.systems.SystemComparison.table`); systems without an interval are
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


def metrics_plot(results, path: str | Path, *, title: str, confidence: float = 0.95) -> Path:
    """Save one panel per level and metric: each target's value with its bootstrap interval as an error bar; return ``path``.

    ``results`` has columns ``level``, ``target``, ``metric``, ``value`` and, for error bars,
    ``low`` and ``high`` (:func:`clapmos.evaluation.intervals.with_intervals`).
    """
    levels = list(dict.fromkeys(results["level"]))
    metrics = list(dict.fromkeys(results["metric"]))
    targets = list(dict.fromkeys(results["target"]))
    figure = Figure(figsize=(2.3 * len(metrics), 0.8 + (0.9 + 0.3 * len(targets)) * len(levels)), layout="constrained")
    FigureCanvasAgg(figure)
    for row, level in enumerate(levels):
        for column, metric in enumerate(metrics):
            axes = figure.add_subplot(len(levels), len(metrics), row * len(metrics) + column + 1)
            rows = results[(results["level"] == level) & (results["metric"] == metric)].set_index("target").reindex(targets)
            value = rows["value"].to_numpy(dtype=float)
            y = np.arange(len(targets))[::-1]
            if "low" in rows:
                error = np.vstack([value - rows["low"].to_numpy(dtype=float), rows["high"].to_numpy(dtype=float) - value])
                axes.errorbar(value, y, xerr=np.nan_to_num(np.clip(error, 0, None)), fmt="o", color="tab:blue", capsize=3, markersize=4)
            else:
                axes.plot(value, y, "o", color="tab:blue", markersize=4)
            axes.set_yticks(y, targets if column == 0 else [""] * len(targets), fontsize=8)
            axes.set_title(f"{level} {metric}", fontsize=9)
            axes.grid(axis="x", color="0.9")
            axes.tick_params(axis="x", labelsize=7)
    bars = f"{confidence:.0%} bootstrap intervals" if "low" in results else "no intervals"
    figure.suptitle(f"{title}\n({bars})", fontsize=9)
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


def _place_labels(figure: Figure, axes, xs: np.ndarray, ys: np.ndarray, labels: list[str]) -> None:
    """Annotate each point at the first offset where its label fits; the least crowded one otherwise."""
    renderer = figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    points = axes.transData.transform(np.c_[xs, ys])
    placed: list[Bbox] = []
    for label, x, y, point in zip(labels, xs, ys, points):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        best = None
        for dx, dy in LABEL_OFFSETS:
            text = axes.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7, color="dimgrey",
                                 ha="left" if dx > 0 else "right" if dx < 0 else "center", va="bottom" if dy >= 0 else "top")
            box = text.get_window_extent(renderer)
            margin = Bbox.from_extents(box.x0 - 4, box.y0 - 4, box.x1 + 4, box.y1 + 4)  # markers have a size
            crowding = sum(box.overlaps(other) for other in placed) + sum(
                margin.contains(*p) for p in points if not np.array_equal(p, point)
            )
            inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
            score = (not inside, crowding)
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, text, box)
            else:
                text.remove()
            if score == (False, 0):
                break
        placed.append(best[2])
