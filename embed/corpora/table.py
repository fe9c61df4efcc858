"""The in-memory form of a rated corpus that every reader returns.

A :class:`Corpus` is three tables:

``items``
    one row per clip, columns ``id`` (the audio file's stem), ``path`` (absolute
    path of the audio file), ``text`` (prompt or caption, ``""`` when the corpus has
    none), ``system`` (generating system, ``""`` when unknown) and ``split``.
``labels``
    one row per clip, aligned with ``items`` (same order), one float column per
    target; NaN where the score is unknown (an evaluation split).
``ratings``
    one row per single rating, columns ``item`` (row position in ``items``),
    ``listener`` (str) and one float column per target. Empty when the corpus has
    no per-listener ratings.
``comparisons``
    optional, one row per pairwise vote: ``a`` and ``b`` (row positions in ``items``),
    ``prompt``, ``vote`` (the label as published: ``A``, ``model_b``, ``TIE``, ...),
    ``voter`` (``""`` when not given), ``dimension`` (what was judged, e.g.
    ``musicality``) and ``confidence`` (NaN when not given). Empty for rating corpora.

>>> import pandas as pd
>>> items = pd.DataFrame({"id": ["a"], "path": ["/x/a.wav"], "text": ["piano"],
...                       "system": ["S1"], "split": ["train"]})
>>> c = Corpus("manifest", items, pd.DataFrame({"overall": [3.0]}),
...            pd.DataFrame(columns=["item", "listener", "overall"]), ["overall"])
>>> c.validate()
>>> c.splits
['train']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clapmos.embed.errors import ClapmosError, listing

ITEM_COLUMNS = ["id", "path", "text", "system", "split"]
COMPARISON_COLUMNS = ["a", "b", "prompt", "vote", "voter", "dimension", "confidence"]


def empty_comparisons() -> pd.DataFrame:
    """A comparisons table with no rows and the right column types."""
    return pd.DataFrame(
        {
            "a": pd.Series(dtype=np.int64), "b": pd.Series(dtype=np.int64),
            **{c: pd.Series(dtype=object) for c in ("prompt", "vote", "voter", "dimension")},
            "confidence": pd.Series(dtype=np.float64),
        }
    )


@dataclass
class Corpus:
    """Items, per-item labels and per-listener ratings of one rated corpus."""

    name: str
    items: pd.DataFrame
    labels: pd.DataFrame
    ratings: pd.DataFrame
    targets: list[str]
    source: str = ""
    notes: list[str] = field(default_factory=list)
    comparisons: pd.DataFrame = field(default_factory=empty_comparisons)

    @property
    def splits(self) -> list[str]:
        """Split names in order of first appearance."""
        return list(dict.fromkeys(self.items["split"]))

    def __len__(self) -> int:
        return len(self.items)

    def validate(self) -> None:
        """Check the invariants every downstream stage relies on."""
        if list(self.items.columns) != ITEM_COLUMNS:
            raise ClapmosError(f"corpus {self.name}: item columns must be {ITEM_COLUMNS}, got {list(self.items.columns)}")
        dup = self.items["id"][self.items["id"].duplicated(keep=False)]
        if len(dup):
            raise ClapmosError(
                f"corpus {self.name}: {dup.nunique()} clip id(s) appear more than once; ids must be unique "
                f"across splits:\n{listing(sorted(set(dup)))}"
            )
        if len(self.labels) != len(self.items) or list(self.labels.columns) != list(self.targets):
            raise ClapmosError(f"corpus {self.name}: labels must have one row per item and columns {self.targets}")
        expected = ["item", "listener", *self.targets]
        if list(self.ratings.columns) != expected:
            raise ClapmosError(f"corpus {self.name}: rating columns must be {expected}, got {list(self.ratings.columns)}")
        if len(self.ratings):
            item = self.ratings["item"].to_numpy()
            if item.min() < 0 or item.max() >= len(self.items):
                raise ClapmosError(f"corpus {self.name}: rating item index out of range")
        if list(self.comparisons.columns) != COMPARISON_COLUMNS:
            raise ClapmosError(f"corpus {self.name}: comparison columns must be {COMPARISON_COLUMNS}, got {list(self.comparisons.columns)}")
        if len(self.comparisons):
            pairs = self.comparisons[["a", "b"]].to_numpy()
            if pairs.min() < 0 or pairs.max() >= len(self.items):
                raise ClapmosError(f"corpus {self.name}: comparison item index out of range")

    def subset(self, splits: list[str] | None) -> "Corpus":
        """The corpus restricted to ``splits`` (all when ``None``), ratings re-indexed."""
        if not splits:
            return self
        unknown = sorted(set(splits) - set(self.splits))
        if unknown:
            raise ClapmosError(
                f"corpus {self.name} has no split(s) {unknown}; it has {self.splits}. Pass --split with one of those."
            )
        keep = self.items["split"].isin(splits).to_numpy()
        new_index = np.full(len(self.items), -1)
        new_index[keep] = np.arange(int(keep.sum()))
        ratings = self.ratings[keep[self.ratings["item"].to_numpy(dtype=int)]].copy() if len(self.ratings) else self.ratings.copy()
        if len(ratings):
            ratings["item"] = new_index[ratings["item"].to_numpy(dtype=int)]
        comparisons = self.comparisons
        if len(comparisons):  # a vote stays when both its clips do
            a, b = comparisons["a"].to_numpy(dtype=int), comparisons["b"].to_numpy(dtype=int)
            comparisons = comparisons[keep[a] & keep[b]].copy()
            comparisons["a"] = new_index[comparisons["a"].to_numpy(dtype=int)]
            comparisons["b"] = new_index[comparisons["b"].to_numpy(dtype=int)]
        return Corpus(
            self.name,
            self.items[keep].reset_index(drop=True),
            self.labels[keep].reset_index(drop=True),
            ratings.reset_index(drop=True),
            list(self.targets),
            self.source,
            list(self.notes),
            comparisons.reset_index(drop=True),
        )
