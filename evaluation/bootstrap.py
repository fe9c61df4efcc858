"""Bootstrap draws for every figure clapmos reports: clip level, two-level system/clip, prompt-grouped.

One implementation of resampling serves ``evaluate`` (intervals on each metric), paired
comparisons of predictors (:mod:`clapmos.evaluation.paired`) and ``score``'s per-system means
(:mod:`clapmos.evaluation.systems`). A :class:`Draws` holds the drawn clip indices of B draws;
applying it to truth and predictions gives B values of any metric, and applying the *same*
draws to two predictors gives paired values.

* **clip level** (:func:`draw_clips`): each draw resamples the clips with replacement; with
  ``groups`` (prompts shared by several clips) it resamples whole groups instead.
* **system level** (:func:`draw_systems`): each draw resamples the systems with replacement
  and, within every drawn system, its clips with replacement (two-level, Davison & Hinkley
  1997 §3.8); the system scores are the means of the drawn clips. ``resample_systems=False``
  keeps the systems fixed and resamples only clips (what a per-system mean needs, and the
  naive design that under-covers a system-level correlation).

Intervals are percentile intervals (Efron & Tibshirani 1993, ch. 13). The draws are index
arrays, so 2,000 two-level draws of 2,335 clips in 31 systems take well under a second
(``benchmarks/bench_bootstrap.py``).

>>> rng = np.random.default_rng(0)
>>> draws = draw_systems(np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]), 200, rng)
>>> true = np.array([1.0, 1.2, 0.8, 2.0, 2.2, 1.8, 3.0, 3.3, 2.7])
>>> values = draws.metric(true, true + 0.1, "MSE")
>>> values.shape, bool(np.allclose(values, 0.01))
((200,), True)
>>> [round(bound, 6) for bound in percentile_interval(np.arange(101.0), 0.9)]
[5.0, 95.0]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: metrics for which a lower value is better (every other metric: higher is better)
LOWER_IS_BETTER = {"MSE"}
#: up to this many pairs Kendall's tau is computed on sign matrices for all draws at once
SMALL_KENDALL = 200
MetricFunction = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Vectorised:
    """A metric already computed on two ``(draws, pairs)`` arrays, one value per draw (e.g. Top-Tier F1 at a threshold).

    >>> batched(Vectorised(lambda t, p: np.abs(t - p).max(axis=1)))(np.zeros((2, 3)), np.ones((2, 3)))
    array([1., 1.])
    """

    function: Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Draws:
    """The clip indices of ``n_draws`` bootstrap draws (clip or system level).

    ``clip`` lists the drawn clips of all draws one after the other; at the clip level
    ``starts`` (length ``n_draws + 1``) bounds each draw's run, at the system level ``slot``
    gives the drawn system slot (``draw * n_slots + j``) of every drawn clip and
    ``slot_system`` the system code in each slot, shape ``(n_draws, n_slots)``.
    """

    level: str  # "clips" or "systems"
    n_draws: int
    clip: np.ndarray
    starts: np.ndarray | None = None
    slot: np.ndarray | None = None
    slot_system: np.ndarray | None = None

    def pairs(self, true: np.ndarray, pred: np.ndarray, given: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The drawn (truth, prediction) pairs as two ``(n_draws, m)`` arrays (equal-size draws only).

        At the system level these are the drawn systems' mean scores; ``given`` (true means per
        system code) replaces the true means.
        """
        true, pred = np.asarray(true, dtype=float), np.asarray(pred, dtype=float)
        if self.level == "systems":
            shape = self.slot_system.shape
            counts = np.bincount(self.slot, minlength=shape[0] * shape[1])
            means = [np.bincount(self.slot, weights=v[self.clip], minlength=counts.size) / counts for v in (true, pred)]
            sys_true, sys_pred = (m.reshape(shape) for m in means)
            if given is not None:
                sys_true = np.asarray(given, dtype=float)[self.slot_system]
            return sys_true, sys_pred
        if self.starts is not None:
            raise ValueError("grouped clip draws differ in size; use Draws.metric")
        index = self.clip.reshape(self.n_draws, -1)
        return true[index], pred[index]

    def metric(self, true: np.ndarray, pred: np.ndarray, metric: str | MetricFunction, given: np.ndarray | None = None) -> np.ndarray:
        """The value of ``metric`` (a name of :data:`BATCHED` or any ``f(true, pred) -> float``) in every draw."""
        if self.starts is None and self.level == "clips" and metric == "SRCC":  # ranks of resampled values: no sorting per draw
            index = self.clip.reshape(self.n_draws, -1)
            return _lcc(drawn_ranks(true, index), drawn_ranks(pred, index))
        if self.starts is None:
            return batched(metric)(*self.pairs(true, pred, given))
        true, pred = np.asarray(true, dtype=float), np.asarray(pred, dtype=float)
        function = batched(metric)
        bounds = zip(self.starts[:-1], self.starts[1:])
        return np.array([function(true[None, self.clip[a:b]], pred[None, self.clip[a:b]])[0] for a, b in bounds])


def draw_clips(n_clips: int, n_draws: int, rng: np.random.Generator, groups: np.ndarray | None = None) -> Draws:
    """Resample ``n_clips`` clips with replacement, or whole ``groups`` (one code per clip) with replacement.

    >>> draws = draw_clips(4, 3, np.random.default_rng(0), groups=np.array([0, 0, 1, 2]))
    >>> len(draws.starts), draws.n_draws
    (4, 3)
    """
    if groups is None:
        return Draws("clips", n_draws, rng.integers(0, n_clips, size=(n_draws, n_clips)).ravel())
    codes, members, first, sizes = _grouping(groups)
    drawn = rng.integers(0, len(sizes), size=(n_draws, len(sizes)))
    lengths = sizes[drawn]
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths.ravel()) - lengths.ravel(), lengths.ravel())
    clip = members[np.repeat(first[drawn].ravel(), lengths.ravel()) + offsets]
    starts = np.concatenate([[0], np.cumsum(lengths.sum(axis=1))])
    return Draws("clips", n_draws, clip, starts=starts)


def draw_systems(systems: np.ndarray, n_draws: int, rng: np.random.Generator, resample_systems: bool = True) -> Draws:
    """Two-level draws: systems with replacement, then each drawn system's clips with replacement.

    ``systems`` holds one system code (0..S-1) per clip. With ``resample_systems=False`` every
    draw keeps the S systems in order (slot j is system j) and resamples only their clips.
    """
    codes, members, first, sizes = _grouping(systems)
    n_systems = len(sizes)
    if resample_systems:
        slot_system = rng.integers(0, n_systems, size=(n_draws, n_systems))
    else:
        slot_system = np.broadcast_to(np.arange(n_systems), (n_draws, n_systems))
    lengths = sizes[slot_system].ravel()
    slot = np.repeat(np.arange(lengths.size), lengths)
    within = np.floor(rng.random(slot.size) * lengths[slot]).astype(np.int64)
    clip = members[first[slot_system].ravel()[slot] + within]
    return Draws("systems", n_draws, clip, slot=slot, slot_system=np.asarray(slot_system))


def _grouping(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group codes, the clip indices sorted by group, each group's first position in them, and group sizes."""
    codes = np.unique(np.asarray(labels), return_inverse=True)[1].ravel()
    members = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return codes, members, first, sizes


def drawn_ranks(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank, as in ``scipy.stats.rankdata``) of ``values[index]`` within each row.

    The values are ranked once (scipy's dense ranks); a drawn value's rank is then the number of
    drawn values below it plus half of (its copies + 1), counted per row.

    >>> drawn_ranks(np.array([3.0, 1.0, 3.0]), np.array([[0, 1, 2], [0, 0, 1]]))
    array([[2.5, 1. , 2.5],
           [2.5, 2.5, 1. ]])
    """
    from scipy import stats

    dense = stats.rankdata(np.asarray(values, dtype=float), method="dense").astype(np.int64) - 1
    n_groups, n_draws = int(dense.max()) + 1 if dense.size else 0, len(index)
    drawn = dense[index] + n_groups * np.arange(n_draws)[:, None]
    counts = np.bincount(drawn.ravel(), minlength=n_draws * n_groups).reshape(n_draws, n_groups)
    below = np.cumsum(counts, axis=1) - counts
    ranks = below + (counts + 1) / 2
    return ranks.ravel()[drawn]


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of the finite draws (NaN when fewer than half are finite)."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.size < values.size / 2:
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)


# --------------------------------------------------------------------------- metrics on many draws at once
def _mse(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.mean((true - pred) ** 2, axis=1)


def _lcc(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    from scipy import stats

    if true.shape[1] < 2:  # one clip or system per draw: no correlation
        return np.full(true.shape[0], np.nan)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant draw: NaN
        return np.asarray(stats.pearsonr(true, pred, axis=1).statistic, dtype=float)


def _srcc(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    from scipy import stats

    return _lcc(stats.rankdata(true, axis=1), stats.rankdata(pred, axis=1))


def _ktau(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Kendall tau-b per draw: scipy's ``kendalltau`` (it has no batched form), or for few pairs (systems) its
    definition on sign matrices, sum sign(dt)·sign(dp) / sqrt(sum sign(dt)² · sum sign(dp)²) over pairs,
    which tests/test_bootstrap.py checks against scipy."""
    from scipy import stats

    if true.shape[1] > SMALL_KENDALL:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.array([stats.kendalltau(t, p, variant="b").statistic for t, p in zip(true, pred)], dtype=float)
    values = np.empty(len(true))
    step = max(1, 2_000_000 // max(1, true.shape[1] ** 2))
    for start in range(0, len(true), step):
        t, p = true[start:start + step], pred[start:start + step]
        st, sp = np.sign(t[:, :, None] - t[:, None, :]), np.sign(p[:, :, None] - p[:, None, :])
        with np.errstate(all="ignore"):
            values[start:start + step] = (st * sp).sum(axis=(1, 2)) / np.sqrt((st * st).sum(axis=(1, 2)) * (sp * sp).sum(axis=(1, 2)))
    return values


#: metrics computed on a ``(draws, pairs)`` array at once; any other metric is applied draw by draw
BATCHED: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {"MSE": _mse, "LCC": _lcc, "SRCC": _srcc, "KTAU": _ktau}


def batched(metric: str | MetricFunction) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``metric`` as a function of two ``(draws, pairs)`` arrays returning one value per draw.

    A name of :data:`BATCHED` gives its vectorised form, a :class:`Vectorised` its function; a function ``f(true, pred) -> float``
    (e.g. one registered in :mod:`clapmos.evaluation.metrics`) is applied row by row, NaN
    where it warns or fails on a degenerate draw.

    >>> batched(lambda t, p: float(np.max(np.abs(t - p))))(np.zeros((2, 3)), np.ones((2, 3)))
    array([1., 1.])
    """
    if isinstance(metric, Vectorised):
        return metric.function
    if isinstance(metric, str):
        if metric not in BATCHED:
            raise ValueError(f"no bootstrap form of metric {metric!r}; pass a function f(true, pred) -> float instead")
        return BATCHED[metric]

    def rows(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
        values = np.empty(len(true))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, (t, p) in enumerate(zip(true, pred)):
                try:
                    values[i] = float(metric(t, p))
                except (ValueError, FloatingPointError, ZeroDivisionError):
                    values[i] = np.nan
        return values

    return rows
