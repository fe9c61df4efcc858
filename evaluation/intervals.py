"""A bootstrap interval for every metric of :func:`clapmos.evaluation.metrics.score`, at both levels.

The utterance level resamples clips (or whole prompts, when ``groups`` names the prompt of
every clip, prompts are shared by several clips and there are at least :data:`MIN_GROUPS`); the system level resamples systems and,
within each drawn system, its clips (:func:`clapmos.evaluation.bootstrap.draw_systems`), so
both the systems sampled and the clips within them are in the interval. The clips are chosen
exactly as :func:`~clapmos.evaluation.metrics.score` chooses them (NaN pairs and clips without
a system left out; with given true system means, systems without one left out).

>>> import pandas as pd
>>> rng = np.random.default_rng(0)
>>> true = rng.normal(size=60); systems = np.repeat(list("ABCDEF"), 10)
>>> table = metric_intervals(pd.DataFrame({"overall": true}), pd.DataFrame({"overall": true + 0.1}), systems, n_draws=200)
>>> table[table["metric"] == "MSE"][["level", "low", "high"]].round(3).to_dict("list")
{'level': ['utterance', 'system'], 'low': [0.01, 0.01], 'high': [0.01, 0.01]}
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clapmos.evaluation.bootstrap import Draws, MetricFunction, Vectorised, draw_clips, draw_systems, percentile_interval
from clapmos.evaluation.metrics import LEVELS, METRICS

#: prompts are resampled whole only when there are at least this many (else clips are)
MIN_GROUPS = 10
INTERVAL_COLUMNS = ["level", "target", "metric", "low", "high"]
#: how the intervals are made, for metrics files and the README
METHOD = ("percentile bootstrap; utterance level: clips resampled with replacement (whole prompts where prompts are shared); "
          "system level: two-level, systems resampled and each drawn system's clips resampled (Davison & Hinkley 1997, §3.8)")


@dataclass(frozen=True)
class BootstrapSettings:
    """How many draws, at what confidence, from which seed (``n_draws=0``: no intervals)."""

    n_draws: int = 1000
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_draws < 0:
            raise ValueError(f"n_draws must be 0 (no intervals) or more, got {self.n_draws}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must lie between 0 and 1, got {self.confidence}")

    def summary(self) -> dict:
        """The settings and the method as JSON-ready data."""
        return {"draws": self.n_draws, "confidence": self.confidence, "seed": self.seed, "method": METHOD}


@dataclass(frozen=True)
class LevelSample:
    """What one level of one target is computed on: clip truths and predictions, and how they are resampled."""

    level: str
    true: np.ndarray
    pred: np.ndarray
    codes: np.ndarray | None = None  # system level: system code of every clip
    given: np.ndarray | None = None  # system level: given true mean per system code
    groups: np.ndarray | None = None  # utterance level: prompt of every clip

    def draws(self, n_draws: int, seed: int) -> Draws:
        """Draws for this level, the same for every predictor of the same clips and seed."""
        rng = np.random.default_rng([seed, LEVELS.index(self.level)])
        if self.level == "system":
            return draw_systems(self.codes, n_draws, rng)
        return draw_clips(len(self.true), n_draws, rng, groups=self.groups)


def level_samples(
    true: np.ndarray, pred: np.ndarray, systems: np.ndarray | None = None, given: pd.Series | None = None,
    groups: np.ndarray | None = None,
) -> list[LevelSample]:
    """The samples of both levels for one target, with the clips :func:`~clapmos.evaluation.metrics.score` uses."""
    true, pred = np.asarray(true, dtype=float), np.asarray(pred, dtype=float)
    paired = ~(np.isnan(true) | np.isnan(pred))
    shared = None
    if groups is not None:
        groups = np.asarray(groups, dtype=object)[paired]
        distinct = pd.Series(groups).nunique()
        complete = not pd.isna(groups).any()  # a clip without a prompt: resample clips
        shared = groups if complete and MIN_GROUPS <= distinct < len(groups) else None
    samples = [LevelSample("utterance", true[paired], pred[paired], groups=shared)]
    if systems is None:
        return samples
    systems = np.asarray(systems, dtype=object)
    known = ~pd.isna(systems)
    if given is None:
        use = paired & known
    else:
        has_mean = np.isin(systems, given.dropna().index.to_numpy(dtype=object)) & known
        use = ~np.isnan(pred) & has_mean
    ids, codes = np.unique(systems[use].astype(str), return_inverse=True)
    if len(ids) == 0:
        return samples
    means = None if given is None else given.set_axis(given.index.astype(str)).reindex(ids).to_numpy(dtype=float)
    return samples + [LevelSample("system", np.nan_to_num(true[use]), pred[use], codes=codes.ravel(), given=means)]


def metric_intervals(
    y_true: pd.DataFrame,
    y_pred: pd.DataFrame,
    systems: Sequence | np.ndarray | None = None,
    *,
    groups: Sequence | np.ndarray | None = None,
    system_truth: pd.DataFrame | None = None,
    n_draws: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    metrics: Sequence[str] | Mapping[str, MetricFunction] = METRICS,
    per_target: Mapping[str, Mapping[str, MetricFunction | Vectorised]] | None = None,
    mean_of: Sequence[str] = (),
    mean_metrics: Sequence[str] = ("LCC", "SRCC", "KTAU", "TTA"),
) -> pd.DataFrame:
    """Percentile bootstrap interval of every metric, level and target (columns :data:`INTERVAL_COLUMNS`).

    ``y_true`` and ``y_pred`` have one column per target; ``metrics`` are names of
    :data:`clapmos.evaluation.bootstrap.BATCHED` or ``{name: f(true, pred) -> float}``;
    ``per_target`` adds metrics of single targets (``{target: {name: function}}``, e.g. Top-Tier
    F1 at each dimension's threshold). With ``mean_of`` (targets all scored on the same clips,
    so their draws coincide), target ``mean`` gets the interval of the per-draw mean over
    them of each of ``mean_metrics`` (NaN values of a draw left out, as the point estimate does).
    """
    functions = dict(metrics) if isinstance(metrics, Mapping) else {m: m for m in metrics}
    rows, drawn, values_of = [], {}, {}
    for target in y_true.columns:
        given = None if system_truth is None else system_truth[target]
        extra = dict((per_target or {}).get(target, {}))
        for sample in level_samples(y_true[target].to_numpy(), y_pred[target].to_numpy(), systems, given, groups):
            draws = sample.draws(n_draws, seed)
            drawn[sample.level, target] = draws
            for name, function in {**functions, **extra}.items():
                values = draws.metric(sample.true, sample.pred, function, sample.given)
                values_of[sample.level, target, name] = values
                rows.append((sample.level, target, name, *percentile_interval(values, confidence)))
    if len(mean_of) > 1 and set(mean_of) <= set(y_true.columns):
        for level in LEVELS:
            same = [drawn.get((level, t)) for t in mean_of]
            if any(d is None for d in same) or not all(np.array_equal(d.clip, same[0].clip) for d in same[1:]):
                continue  # the targets were not drawn alike (other clips scored): no interval of their mean
            for name in mean_metrics:
                if all((level, t, name) in values_of for t in mean_of):
                    stacked = np.vstack([values_of[level, t, name] for t in mean_of])
                    with np.errstate(all="ignore"), warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # a draw where every target is NaN: NaN
                        rows.append((level, "mean", name, *percentile_interval(np.nanmean(stacked, axis=0), confidence)))
    return pd.DataFrame(rows, columns=INTERVAL_COLUMNS)


def with_intervals(results: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """``results`` of :func:`~clapmos.evaluation.metrics.score` with the ``low`` and ``high`` columns of ``intervals``.

    A value that is not defined (NaN, e.g. Top-Tier F1 of clips none of which is top) gets no interval.
    """
    merged = results.merge(intervals, on=["level", "target", "metric"], how="left")
    undefined = merged["value"].isna()
    merged.loc[undefined, ["low", "high"]] = np.nan
    return merged
