"""Scatter plots people can read: labels neither stacked nor cut off, titles that say what was predicted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clapmos.evaluation.plots import scatter_figure
from clapmos.evaluation.report import evaluate_predictions, write_outputs
from clapmos.evaluation.truth import Truth


def label_boxes(figure):
    renderer = figure.canvas.get_renderer()
    return [text.get_window_extent(renderer) for text in figure.axes[0].texts]


@pytest.mark.parametrize("n_systems", [8, 31])
def test_system_labels_neither_overlap_nor_leave_the_figure(n_systems):
    rng = np.random.default_rng(n_systems)
    truth = rng.normal(3.0, 0.25, n_systems)  # crowded, as system means are
    prediction = truth + rng.normal(0, 0.08, n_systems)
    labels = [f"S{k:03d}" for k in range(n_systems)]
    figure = scatter_figure(truth, prediction, title="dev, held out · spo_mlp\nsystem level, overall", labels=labels)
    boxes = label_boxes(figure)
    assert len(boxes) == n_systems
    inside = figure.bbox
    assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 and b.y1 <= inside.y1 for b in boxes)
    overlaps = sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert overlaps <= n_systems // 10  # only where 8+ labels cannot all fit around a dense cluster


def test_the_title_says_what_was_predicted_at_which_level(tmp_path, monkeypatch):
    import clapmos.evaluation.plots

    clips = pd.DataFrame({"id": list("abcdef"), "system": ["S1", "S1", "S2", "S2", "S3", "S3"], "overall": [1.0, 2.0, 3.0, 4.0, 2.0, 5.0]})
    predictions = clips[["id"]].assign(overall=[1.5, 2.0, 2.5, 4.5, 2.5, 4.0])
    report = evaluate_predictions(predictions, Truth(clips, ["overall"], "store dev"), label="dev, held out · ridge+spo_mlp")
    titles, real = [], clapmos.evaluation.plots.scatter_plot
    monkeypatch.setattr(clapmos.evaluation.plots, "scatter_plot", lambda *a, **k: titles.append(k["title"]) or real(*a, **k))
    write_outputs(report, tmp_path / "report")
    assert sorted(t.splitlines()[1] for t in titles) == ["system level, overall (n = 3)", "utterance level, overall (n = 6)"]
    assert all(t.splitlines()[0] == "dev, held out · ridge+spo_mlp" for t in titles)
