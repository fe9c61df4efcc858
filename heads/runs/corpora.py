"""Several corpora in one run: ``fit --store A --store B --target-map B:mos=overall`` (AlignNet-style, METHODS.md §8).

Each store is one listening test, named by its folder (``musiceval.zarr`` is the corpus
``musiceval``); the first store is the reference, whose targets are the run's and on whose scale
a clip of no known corpus is predicted. The stores must hold the run's embedders made the same
way (:func:`~clapmos.heads.runs.store_match.check_same_features`). A target of the run is read
from another store under the same name, or under the name the user maps to it
(``B:mos=overall``: store B's ``mos`` is the run's ``overall``); nothing is guessed, and a store
lacking a target is refused with every store's targets listed.

:class:`PooledStores` shows the stores' training rows to ``fit_run`` as one store, with each row's
corpus label (:meth:`PooledStores.corpus_labels`); the run's heads are ``aligned``
(:class:`~clapmos.heads.aligned.CorpusAlignedRegressor`), which learn one shared score and a map per
corpus, and the label reaches their ``fit`` and ``predict`` through the ensemble.

>>> parse_target_maps(["b:mos=overall", "c:q=overall"])
{'b': {'overall': 'mos'}, 'c': {'overall': 'q'}}
>>> corpus_label("/data/my-test.zarr")
'my-test'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clapmos.embed.errors import ClapmosError
from clapmos.heads.runs.store_match import check_same_features


def corpus_label(path: str | Path) -> str:
    """A store's corpus label: its folder name without ``.zarr``."""
    name = Path(str(path).rstrip("/")).name
    return name[: -len(".zarr")] if name.endswith(".zarr") else name


def parse_target_maps(entries: Sequence[str]) -> dict[str, dict[str, str]]:
    """``LABEL:THEIRS=OURS`` entries as ``{label: {our target: their target}}``; a malformed entry is refused."""
    maps: dict[str, dict[str, str]] = {}
    for entry in entries:
        label, colon, pair = entry.partition(":")
        theirs, equals, ours = pair.partition("=")
        if not (colon and equals and label.strip() and theirs.strip() and ours.strip()):
            raise ClapmosError(f"--target-map {entry}: write CORPUS:THEIRS=OURS, e.g. --target-map mytest:mos=overall "
                               "(store mytest.zarr's target mos is the run's overall)")
        label, theirs, ours = label.strip(), theirs.strip(), ours.strip()
        if ours in maps.setdefault(label, {}):
            raise ClapmosError(f"--target-map {entry}: {label}'s target for {ours} is already mapped (to {maps[label][ours]})")
        maps[label][ours] = theirs
    return maps


def corpora_config(stores: Mapping[str, object], targets: Sequence[str], maps: Mapping[str, Mapping[str, str]]) -> dict[str, dict]:
    """The run's ``corpora`` setting: per label (reference first) its store and where each run target is read.

    Refuses an unknown label or target in ``maps``, and a store lacking a run target it was not mapped,
    listing every store's targets.
    """
    unknown = sorted(set(maps) - set(stores))
    if unknown:
        raise ClapmosError(f"--target-map names corpus {', '.join(unknown)}; the corpora of this run are {', '.join(stores)} "
                           "(each --store's folder name without .zarr)")
    reference = next(iter(stores))
    corpora = {}
    for label, store in stores.items():
        mapping = dict(maps.get(label, {}))
        strays = [ours for ours in mapping if ours not in targets]
        wrong = [theirs for theirs in mapping.values() if theirs not in store.targets]
        if strays or wrong:
            raise ClapmosError(f"--target-map {label}: " + "; ".join(
                [*([f"{', '.join(strays)} is not a target of the run ({', '.join(targets)})"] if strays else []),
                 *([f"{store.path} has no target {', '.join(wrong)} (its targets: {', '.join(store.targets) or 'none'})"] if wrong else [])]))
        missing = [t for t in targets if t not in mapping and t not in store.targets]
        if missing:
            listing = "\n  ".join(f"{name} ({s.path}): {', '.join(s.targets) or 'no targets'}" for name, s in stores.items())
            raise ClapmosError(
                f"{store.path} has no target {', '.join(missing)}, which the run fits (the targets of {reference}, the first --store). "
                f"Map one of its targets to it, e.g. --target-map {label}:{(store.targets or ['THEIRS'])[0]}={missing[0]}, or fit fewer "
                f"with --target. The stores' targets:\n  {listing}"
            )
        corpora[label] = {"store": str(store.path), "targets": {t: mapping.get(t, t) for t in targets}}
    return corpora


def under_corpus_names(frame: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """``frame`` with the run's target columns (``overall``, ``overall_std``, ``overall_pred``...) under a corpus's names.

    >>> under_corpus_names(pd.DataFrame(columns=["id", "overall", "overall_std"]), {"overall": "mos"}).columns.tolist()
    ['id', 'mos', 'mos_std']
    """
    def renamed(column: str) -> str:
        return next((names[t] + column[len(t):] for t in sorted(names, key=len, reverse=True) if column == t or column.startswith(f"{t}_")), column)

    return frame.rename(columns=renamed)


def check_corpora(stores: Mapping[str, object], embedders: Sequence[str]) -> None:
    """Refuse stores that cannot share a run: features made differently from the first store's (both stores named)."""
    reference = next(iter(stores.values()))
    for store in list(stores.values())[1:]:
        check_same_features(reference, store, embedders, "--store", "--store")


class PooledStores:
    """The rows of several stores, one after the other, as ``fit_run`` reads one store (labels under the run's target names).

    ``corpora`` is the run's :func:`corpora_config`; only what a fit of clip-vector heads reads is
    offered (the heads that align corpora take no listener ratings or votes).
    """

    def __init__(self, stores: Mapping[str, object], corpora: Mapping[str, Mapping]):
        self.stores = dict(stores)
        self.corpora = {label: dict(corpora[label]) for label in self.stores}
        self.reference = next(iter(self.stores.values()))
        self.path, self.corpus = self.reference.path, self.reference.corpus
        self.targets = list(next(iter(self.corpora.values()))["targets"])
        self._offsets = np.cumsum([0, *(len(s) for s in self.stores.values())])

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def embedders(self) -> list[str]:
        return [e for e in self.reference.embedders if all(e in s.embedders for s in self.stores.values())]

    def layout(self, embedders):
        return self.reference.layout(embedders)

    def embedder_attrs(self, embedder: str) -> dict:
        return self.reference.embedder_attrs(embedder)

    def has_frames(self, embedder: str) -> bool:
        return False

    def rows(self, split=None) -> np.ndarray:
        return np.concatenate([offset + store.rows(split) for offset, store in zip(self._offsets, self.stores.values())])

    def items(self, split=None) -> pd.DataFrame:
        tables = [store.items(split).assign(corpus=label) for label, store in self.stores.items()]
        return pd.concat(tables, ignore_index=True).set_axis(self.rows(split) if split is not None else np.arange(len(self)))

    def corpus_labels(self, split=None) -> np.ndarray:
        """The corpus label of every row of ``split``, in the order of :meth:`rows`."""
        return np.concatenate([np.full(len(store.rows(split)), label, dtype=object) for label, store in self.stores.items()]).astype(str)

    def stacked(self, embedders, split=None):
        pieces = [store.stacked(embedders, split)[0] for store in self.stores.values()]
        return np.vstack(pieces), self.layout(embedders)

    def labels(self, split=None) -> pd.DataFrame:
        tables = []
        for label, store in self.stores.items():
            theirs = store.labels(split)
            tables.append(pd.DataFrame({ours: theirs[name].to_numpy() for ours, name in self.corpora[label]["targets"].items()}))
        return pd.concat(tables, ignore_index=True)

    def ratings(self, split=None) -> pd.DataFrame:
        return pd.DataFrame(columns=["item", "id", "listener", *self.targets])

    def comparisons(self, split=None) -> pd.DataFrame:
        return pd.DataFrame(columns=["a", "b", "vote", "dimension"])
