"""Pairwise votes as per-row arrays a head can receive through metadata routing, sliced per fold.

A vote between items i and j becomes an entry on row i: the opponent j and i's share of
the win (1 won, 0 lost, 0.5 tie). Three arrays, aligned with the rows of X:

``pair_items`` (n,)
    each row's item number (its row in the store);
``pair_opponents`` (n, k)
    the item numbers of its opponents, ``-1`` as padding;
``pair_outcomes`` (n, k)
    its share of each win, NaN as padding.

Sliced to a fold's rows, a head keeps the votes whose opponent is among them too, so that a
held-out item's votes never reach training. Votes are mapped to shares with CMI-RewardBench's
labels plus Music Arena's: A/``model_a`` 1, B/``model_b`` 0, TIE/``both``/``neither`` 0.5,
BOTH_BAD left out (as Music Arena's leaderboard does).

>>> items, opponents, outcomes = comparison_arrays([0, 2], [1, 0], ["A", "TIE"], n_items=3)
>>> opponents.tolist(), outcomes.tolist()
([[1], [-1], [0]], [[1.0], [nan], [0.5]])
"""

from __future__ import annotations

import numpy as np

SHARE_OF_A = {"a": 1.0, "model_a": 1.0, "b": 0.0, "model_b": 0.0, "tie": 0.5, "both": 0.5, "neither": 0.5}


def vote_shares(votes) -> np.ndarray:
    """Item A's share of each vote's win (NaN for BOTH_BAD and unknown labels)."""
    return np.array([SHARE_OF_A.get(str(v).strip().lower(), np.nan) for v in votes], dtype=float)


def comparison_arrays(a, b, votes, n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pair_items, pair_opponents, pair_outcomes)`` for items ``0..n_items-1`` (see the module docstring)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    share = vote_shares(votes)
    keep = ~np.isnan(share) & (a != b)
    a, b, share = a[keep], b[keep], share[keep]
    width = max(int(np.bincount(a, minlength=n_items).max()) if len(a) else 0, 1)
    opponents = np.full((n_items, width), -1, dtype=np.int64)
    outcomes = np.full((n_items, width), np.nan)
    filled = np.zeros(n_items, dtype=np.int64)
    for i, j, s in zip(a, b, share):
        opponents[i, filled[i]], outcomes[i, filled[i]] = j, s
        filled[i] += 1
    return np.arange(n_items, dtype=np.int64), opponents, outcomes


def pairs_within(pair_items, pair_opponents, pair_outcomes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The votes among the given rows: ``(row of A, row of B, share of A)``, positions in these rows."""
    items = np.asarray(pair_items, dtype=np.int64)
    position = {int(item): row for row, item in enumerate(items)}
    opponents, outcomes = np.asarray(pair_opponents, dtype=np.int64), np.asarray(pair_outcomes, dtype=float)
    rows, cols = np.nonzero(opponents >= 0)
    b = np.array([position.get(int(o), -1) for o in opponents[rows, cols]], dtype=np.int64)
    inside = b >= 0
    return rows[inside], b[inside], outcomes[rows, cols][inside]
