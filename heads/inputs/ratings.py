"""Ratings preparation for SPO training: screening, per-listener standardisation, item targets.

Pure functions on the store's long ratings table: one row per single rating, columns
``item`` (row of the item in the feature matrix), ``listener`` (str) and one float
column per target (other columns are ignored). The steps follow METHODS.md §3:

1. :func:`screen_ratings` keeps a rating only if another rating of the same item lies
   within ``tau`` of it;
2. :func:`listener_statistics` gives every listener's mean and sample standard
   deviation and the global statistics ``mu_g``, ``sigma_g``;
3. :func:`standardize` maps each rating to ``z = (score - mu_l) / sigma_l`` (unseen
   listeners with ``mu_g``, ``sigma_g``);
4. :func:`item_targets` chains them and averages the z of every item.

:func:`listener_matrices` and :func:`ratings_from_matrices` convert between the long
table and the padded, sample-aligned arrays an SPO estimator receives in ``fit``.

>>> ratings = pd.DataFrame({"item": [0, 0, 1, 1], "listener": ["a", "b", "a", "b"],
...                         "alignment": [2.0, 4.0, 6.0, 8.0]})
>>> item_targets(ratings, "alignment", n_items=2).z.round(3).tolist()
[-0.707, 0.707]
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd

from clapmos.embed.errors import ClapmosError

_COUNT_KEYS = ("ratings_in", "ratings_removed", "items_in", "items_emptied", "items_single", "listeners_emptied")
# Absolute slack when comparing a gap with tau, so that 4.2 - 3.2 <= 1.0 holds on floats.
_GAP_SLACK = 1e-9


class NoListenerRatingsWarning(UserWarning):
    """Targets fall back to per-item means because no per-listener ratings were given."""


class ListenerStatistics(NamedTuple):
    """Per-listener and global rating statistics of one target.

    ``table`` is indexed by listener with columns ``mu``, ``sigma`` (sample standard
    deviation, 1 where it is 0 or undefined) and ``n`` (number of ratings).
    """

    table: pd.DataFrame
    mu_g: float
    sigma_g: float


class ItemTargets(NamedTuple):
    """Per-item z targets (NaN where an item has no rating left) and how they were made."""

    z: np.ndarray
    stats: ListenerStatistics
    counts: dict[str, int]


def screen_ratings(ratings: pd.DataFrame, tau: float, target: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Keep a rating only if at least one *other* rating of the same item lies within ``tau``.

    Ratings whose ``target`` is NaN are dropped first. An item with a single rating is
    kept as it is: there is nothing to screen it against, and dropping it would lose
    the item. The counts are ``ratings_in``, ``ratings_removed``, ``items_in``,
    ``items_emptied`` (every rating removed), ``items_single`` (not screened) and
    ``listeners_emptied`` (every rating of the listener removed).

    >>> ratings = pd.DataFrame({"item": [0, 0, 0, 0], "listener": list("abcd"),
    ...                         "alignment": [0.0, 6.0, 10.0, 10.0]})
    >>> kept, counts = screen_ratings(ratings, tau=5, target="alignment")
    >>> kept["alignment"].tolist(), counts["ratings_removed"]
    ([6.0, 10.0, 10.0], 1)
    """
    _require_columns(ratings, target)
    valid = ratings[ratings[target].notna()]
    if valid.empty:
        return valid, dict.fromkeys(_COUNT_KEYS, 0)
    ordered = valid.sort_values(["item", target], kind="stable")
    item = ordered["item"].to_numpy()
    score = ordered[target].to_numpy(dtype=float)
    same_as_next = item[1:] == item[:-1]
    gap = np.where(same_as_next, np.diff(score), np.inf)
    gap_prev, gap_next = np.r_[np.inf, gap], np.r_[gap, np.inf]
    single = np.r_[True, ~same_as_next] & np.r_[~same_as_next, True]
    keep_ordered = (np.minimum(gap_prev, gap_next) <= tau + _GAP_SLACK) | single
    keep = pd.Series(keep_ordered, index=ordered.index).reindex(valid.index).to_numpy()
    kept = valid[keep]
    counts = {
        "ratings_in": len(valid),
        "ratings_removed": int((~keep).sum()),
        "items_in": valid["item"].nunique(),
        "items_emptied": valid["item"].nunique() - kept["item"].nunique(),
        "items_single": int(single.sum()),
        "listeners_emptied": valid["listener"].nunique() - kept["listener"].nunique(),
    }
    return kept, counts


def listener_statistics(ratings: pd.DataFrame, target: str) -> ListenerStatistics:
    """Mean and sample standard deviation per listener, and the global ``mu_g``, ``sigma_g``.

    ``sigma_l`` of 0 or undefined (a single rating) becomes 1; ``mu_g`` is the mean of
    the ``mu_l`` and ``sigma_g`` the root of the mean of the ``sigma_l**2``, both taken
    over listeners (after that replacement).

    >>> ratings = pd.DataFrame({"item": [0, 1, 2, 0], "listener": ["a", "a", "a", "b"],
    ...                         "overall": [2.0, 4.0, 6.0, 5.0]})
    >>> stats = listener_statistics(ratings, "overall")
    >>> stats.table["sigma"].tolist(), stats.mu_g, round(stats.sigma_g, 4)
    ([2.0, 1.0], 4.5, 1.5811)
    """
    _require_columns(ratings, target)
    valid = ratings[ratings[target].notna()]
    if valid.empty:
        raise ClapmosError(f"no ratings of target {target!r} to compute listener statistics from")
    grouped = valid.groupby("listener", sort=True)[target]
    table = pd.DataFrame({"mu": grouped.mean(), "sigma": grouped.std(ddof=1), "n": grouped.size()})
    table["sigma"] = table["sigma"].where(table["sigma"] > 0, 1.0)
    return ListenerStatistics(table, float(table["mu"].mean()), float(np.sqrt((table["sigma"] ** 2).mean())))


def standardize(ratings: pd.DataFrame, stats: ListenerStatistics, target: str) -> pd.Series:
    """``z = (score - mu_l) / sigma_l`` per rating; listeners not in ``stats`` use ``mu_g``, ``sigma_g``.

    >>> stats = ListenerStatistics(pd.DataFrame({"mu": [3.0], "sigma": [2.0]}, index=["a"]), 5.0, 4.0)
    >>> ratings = pd.DataFrame({"item": [0, 0], "listener": ["a", "new"], "overall": [5.0, 5.0]})
    >>> standardize(ratings, stats, "overall").tolist()
    [1.0, 0.0]
    """
    _require_columns(ratings, target)
    mu = ratings["listener"].map(stats.table["mu"]).astype(float).fillna(stats.mu_g)
    sigma = ratings["listener"].map(stats.table["sigma"]).astype(float).fillna(stats.sigma_g)
    return ((ratings[target] - mu) / sigma).rename(target)


def item_targets(
    ratings: pd.DataFrame,
    target: str,
    n_items: int,
    *,
    tau: float | None = None,
    stats: ListenerStatistics | None = None,
    item_means: np.ndarray | None = None,
) -> ItemTargets:
    """Per-item SPO target: the mean z of the item's (screened) ratings.

    Parameters
    ----------
    ratings : DataFrame
        Long ratings table (``item``, ``listener``, ``target``).
    target : str
        Score column to use.
    n_items : int
        Number of items; items without a rating left get NaN.
    tau : float or None
        Screening threshold; ``None`` keeps every rating.
    stats : ListenerStatistics or None
        Statistics to standardise with (e.g. those of the training split, for a split
        with unseen listeners); ``None`` computes them from the screened ``ratings``.
    item_means : array of shape (n_items,) or None
        Per-item mean scores to fall back on when ``ratings`` holds no rating of
        ``target``: they are standardised with their own mean and standard deviation,
        with a :class:`NoListenerRatingsWarning`.
    """
    _require_columns(ratings, target)
    if ratings[target].notna().sum() == 0:
        if item_means is None:
            raise ClapmosError(f"no per-listener ratings of target {target!r} and no per-item means to fall back on")
        return _targets_from_means(np.asarray(item_means, dtype=float), target)
    kept, counts = screen_ratings(ratings, np.inf if tau is None else tau, target)
    if stats is None:
        stats = listener_statistics(kept, target)
    z = standardize(kept, stats, target).groupby(kept["item"].to_numpy()).mean()
    return ItemTargets(z.reindex(range(n_items)).to_numpy(dtype=float), stats, counts)


def listener_matrices(
    ratings_long: pd.DataFrame, n_items: int, targets: str | list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Padded per-item arrays of the ratings, aligned with the rows of the feature matrix.

    Returns ``scores`` of shape (n_items, k) for one target given as a str, or
    (n_items, k, n_targets) for a list, NaN-padded, and ``listener_ids`` of shape
    (n_items, k), object, ``None``-padded; ``k`` is the largest number of ratings of
    one item. Pass them to an SPO estimator's ``fit`` as ``listener_scores`` and
    ``listener_ids``.

    >>> ratings = pd.DataFrame({"item": [0, 0, 1], "listener": ["a", "b", "a"], "overall": [1.0, 2.0, 3.0]})
    >>> scores, ids = listener_matrices(ratings, 2, "overall")
    >>> scores.tolist(), ids.tolist()
    ([[1.0, 2.0], [3.0, nan]], [['a', 'b'], ['a', None]])
    """
    names = [targets] if isinstance(targets, str) else list(targets)
    _require_columns(ratings_long, *names)
    item = ratings_long["item"].to_numpy(dtype=int)
    if len(item) and (item.min() < 0 or item.max() >= n_items):
        raise ClapmosError(f"ratings refer to item rows outside 0..{n_items - 1}")
    slot = ratings_long.groupby("item").cumcount().to_numpy()
    k = int(slot.max()) + 1 if len(slot) else 0
    scores = np.full((n_items, k, len(names)), np.nan)
    scores[item, slot] = ratings_long[names].to_numpy(dtype=float)
    ids = np.full((n_items, k), None, dtype=object)
    ids[item, slot] = ratings_long["listener"].astype(str).to_numpy()
    return (scores[:, :, 0] if isinstance(targets, str) else scores), ids


def ratings_from_matrices(
    listener_scores: np.ndarray, listener_ids: np.ndarray, targets: list[str] | None = None
) -> pd.DataFrame:
    """The long ratings table back from padded arrays (the inverse of :func:`listener_matrices`).

    Slots whose listener id is ``None``, ``""`` or NaN and whose scores are all NaN are
    padding. Target columns are named by ``targets`` (default ``0, 1, ...``).

    >>> ratings_from_matrices(np.array([[1.0, np.nan]]), np.array([["a", None]], dtype=object)).to_dict("list")
    {'item': [0], 'listener': ['a'], 0: [1.0]}
    """
    scores = np.asarray(listener_scores, dtype=float)
    if scores.ndim == 2:
        scores = scores[:, :, None]
    ids = np.asarray(listener_ids, dtype=object)
    if scores.ndim != 3 or ids.shape != scores.shape[:2]:
        raise ValueError(
            f"listener_scores of shape {np.shape(listener_scores)} and listener_ids of shape "
            f"{np.shape(listener_ids)} must be (n_samples, k[, n_targets]) and (n_samples, k)"
        )
    names = list(range(scores.shape[2])) if targets is None else list(targets)
    present = np.array([not (v is None or v == "" or (isinstance(v, float) and np.isnan(v))) for v in ids.ravel()])
    present = present.reshape(ids.shape)
    rated = ~np.isnan(scores).all(axis=2)
    orphans = int((rated & ~present).sum())
    if orphans:
        raise ValueError(f"{orphans} rating(s) in listener_scores have no listener id in listener_ids")
    item, slot = np.nonzero(rated)
    table = pd.DataFrame({"item": item, "listener": ids[item, slot].astype(str)})
    for j, name in enumerate(names):
        table[name] = scores[item, slot, j]
    return table


def _targets_from_means(means: np.ndarray, target: str) -> ItemTargets:
    warnings.warn(
        f"no per-listener ratings of {target!r}: training on per-item means standardised with their own "
        "mean and standard deviation",
        NoListenerRatingsWarning,
        stacklevel=3,
    )
    mu = float(np.nanmean(means))
    sigma = float(np.nanstd(means, ddof=1)) if np.sum(~np.isnan(means)) > 1 else 1.0
    sigma = sigma if sigma > 0 else 1.0
    empty = pd.DataFrame({"mu": [], "sigma": [], "n": []}, index=pd.Index([], name="listener"))
    counts = dict.fromkeys(_COUNT_KEYS, 0)
    counts["items_in"] = int(np.sum(~np.isnan(means)))
    return ItemTargets((means - mu) / sigma, ListenerStatistics(empty, mu, sigma), counts)


def _require_columns(ratings: pd.DataFrame, *targets: str) -> None:
    missing = [c for c in ("item", "listener", *targets) if c not in ratings.columns]
    if missing:
        raise ClapmosError(
            f"ratings table lacks column(s) {missing}; it has {list(ratings.columns)} "
            "(expected one row per rating: item, listener and one column per target)"
        )
