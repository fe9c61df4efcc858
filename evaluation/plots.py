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
