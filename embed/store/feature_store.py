"""The Zarr v3 feature store: one corpus's items, labels, ratings and embeddings.

The schema is written once, in :mod:`clapmos.embed.store.schema` (and for readers of other tools
in the README, "The store").

Readers accept any store with these fields, whoever wrote it. Embeddings are written
in whole chunks of rows, data first and the ``done`` mask last, and zarr writes each
chunk file atomically; so a run killed at any moment leaves a store whose ``done``
rows are all complete, and the next run only does the rest.

>>> import tempfile, pandas as pd
>>> from clapmos.embed.corpora.table import Corpus
>>> items = pd.DataFrame({"id": ["a", "b"], "path": ["/a.wav", "/b.wav"], "text": ["x", "y"],
...                       "system": ["S1", "S2"], "split": ["train", "dev"]})
>>> corpus = Corpus("manifest", items, pd.DataFrame({"overall": [3.0, 4.0]}),
...                 pd.DataFrame({"item": [0, 0], "listener": ["l1", "l2"], "overall": [3.0, 3.0]}),
...                 ["overall"])
>>> store = FeatureStore.create(tempfile.mkdtemp() + "/s.zarr", corpus)
>>> store.items("dev")["id"].tolist(), store.labels("train")["overall"].tolist()
(['b'], [3.0])
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import zarr

from clapmos.embed.corpora.table import COMPARISON_COLUMNS, ITEM_COLUMNS, Corpus, empty_comparisons
from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.files import require_folder
from clapmos.embed.filesystems import is_url
from clapmos.embed.filesystems import open_group as url_group
from clapmos.embed.store import seals
from clapmos.embed.store.feature_writer import FeatureWriterMixin
from clapmos.embed.store.frame_store import FrameStoreMixin
from clapmos.embed.store.summary import StoreSummaryMixin
from clapmos.embed.store.schema import (
    CHECKED_COLUMNS, COMPARISON_STR_COLUMNS, ITEM_CHUNK, RATING_CHUNK, SEGMENT_COLUMNS,
    is_clapmos_store, read_column, write_array, write_str,
)


class FeatureStore(FeatureWriterMixin, FrameStoreMixin, StoreSummaryMixin):
    """A clapmos store on disk (a Zarr v3 group). Open with :meth:`open` or :meth:`create`.

    Writing embeddings (``prepare_features``, ``pending_blocks``, ``write_block``...) comes from
    :class:`clapmos.embed.store.feature_writer.FeatureWriterMixin`, frame tokens (``frames``,
    ``iter_frames``, ``prepare_frames``...) from :class:`clapmos.embed.store.frame_store.FrameStoreMixin`,
    ``summary`` from :class:`clapmos.embed.store.summary.StoreSummaryMixin`.
    """

    def __init__(self, group: zarr.Group, path: Path, final_path: Path | None = None) -> None:
        self.group = group
        self.path = path
        self.final_path = final_path  # set while a rebuilt store waits beside the one it replaces
        self._items_cache: pd.DataFrame | None = None
        self._unsealed_warned: set[str] = set()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, mode: str = "r", option: str | None = None) -> "FeatureStore":
        """Open an existing store (``mode="r"`` to read, ``"r+"`` to add features).

        ``option`` names where the path came from (``--store``) in the message for a missing store.
        A URL (``s3://...``) opens the store on object storage (:mod:`clapmos.embed.filesystems`).
        """
        if is_url(path):
            return cls._checked(url_group(str(path), mode, option), str(path))
        path = require_folder(path, "a clapmos store", f"Create one with `clapmos embed ... --out {path}`.", flag=option)
        try:
            group = zarr.open_group(path, mode=mode)
        except Exception as error:  # zarr raises several types for "not a group"
            raise ClapmosError(f"{path} is not a Zarr store ({error}).") from None
        return cls._checked(group, path)

    @classmethod
    def _checked(cls, group: zarr.Group, path: Path | str) -> "FeatureStore":
        missing = [f"items/{c}" for c in ITEM_COLUMNS if f"items/{c}" not in group]
        if missing:
            raise ClapmosError(f"{path} is not a clapmos store: it lacks {', '.join(missing)}.")
        return cls(group, path)

    @classmethod
    def create(cls, path: str | Path, corpus: Corpus, rebuild: bool = False) -> "FeatureStore":
        """Write ``corpus`` into a new store at ``path``, or reopen the store already there.

        An existing store is reused when it holds the same items (ids, texts, systems
        and splits, in order) so that embedders can be added or a run resumed; its
        labels and ratings are refreshed from ``corpus``. A store built from other
        items is refused unless ``rebuild`` (or unless it holds no embedded row yet):
        then a new store is built beside it, with the features of the clips that did
        not change copied over, and replaces it when :meth:`commit` is called, once the
        features are written (see :mod:`clapmos.embed.store.replacement`). A path that holds anything
        other than a clapmos store, or the corpus itself, is refused.
        """
        from clapmos.embed.store.replacement import build_store, check_destination, discard_rebuild, rebuild_store

        if is_url(path):
            corpus.validate()
            return cls._create_at_url(str(path), corpus, rebuild)
        path = Path(path)
        corpus.validate()
        check_destination(path)
        if not is_clapmos_store(path):
            return build_store(cls, path, corpus)
        store = cls.open(path, mode="r+")
        problem = store._item_difference(corpus)
        if problem is None:
            discard_rebuild(path)  # one begun for other items, which the corpus no longer has
            store._write_labels(corpus)
            store._follow_moved_files(corpus)
            return store
        if not rebuild and store.has_embedded_rows():
            raise ClapmosError(
                f"{problem}\nWrite to another --out, or pass --rebuild to rebuild this store from the items read now "
                "(built beside it; the features of unchanged clips are kept)."
            )
        return rebuild_store(store, corpus, commit_now=not store.has_embedded_rows())

    @classmethod
    def _create_at_url(cls, url: str, corpus: Corpus, rebuild: bool) -> "FeatureStore":
        """:meth:`create` on object storage: written in place under an ownership record; no rebuild (no rename there)."""
        from clapmos.embed.filesystems import begin_writing, end_writing, refuse_swap, store_state
        from clapmos.embed.store.replacement import _write_new_store

        if store_state(url) in ("new", "interrupted"):
            begin_writing(url)
            _write_new_store(cls, url, corpus)
            end_writing(url)
            return cls.open(url, mode="r+")
        store = cls.open(url, mode="r+")
        problem = store._item_difference(corpus)
        if problem is None:
            store._write_labels(corpus)
            store._follow_moved_files(corpus)
            return store
        refuse_swap(url, f"{problem}\nBuilding a store for these items beside it (--rebuild)")
        raise AssertionError  # refuse_swap raises

    def commit(self) -> "FeatureStore":
        """Move a store built by ``create(..., rebuild=True)`` into place (a no-op for other stores)."""
        from clapmos.embed.store.replacement import commit_store

        if self.final_path is not None:
            commit_store(self)
        return self

    def _item_difference(self, corpus: Corpus) -> str | None:
        """``None`` when the store holds exactly the corpus's items, else what differs."""
        mine = self.items()
        theirs = corpus.items.reset_index(drop=True)
        if len(mine) != len(theirs):
            return f"{self.path} holds {len(mine)} items but the corpus read now has {len(theirs)}."
        for column in CHECKED_COLUMNS:
            differs = np.flatnonzero(mine[column].to_numpy() != theirs[column].astype(str).to_numpy())
            if len(differs):
                rows = [f"row {i}: store {mine[column].iat[i]!r} vs corpus {theirs[column].iat[i]!r}" for i in differs]
                return f"{self.path} was built from other items ({len(differs)} differ in '{column}'):\n{listing(rows, 5)}"
        return None

    def _follow_moved_files(self, corpus: Corpus) -> None:
        """Record the corpus's audio paths as read now: same items, whose files moved (a corpus folder renamed)."""
        paths = corpus.items["path"].astype(str).to_numpy()
        if not np.array_equal(self.items()["path"].to_numpy(), paths):
            write_str(self.group, "items/path", paths, ITEM_CHUNK)
            self.group.attrs["source"] = corpus.source
            self._items_cache = None

    def has_embedded_rows(self) -> bool:
        """Whether any embedder has written any row, or may have (its ``done`` flags damaged): a store without one loses
        nothing when rebuilt."""
        for name in self.embedders:
            try:
                if self.done(name).any():
                    return True
            except seals.DamagedRowsError:
                return True
        return False

    def _write_labels(self, corpus: Corpus) -> None:
        group = self.group
        labels = group.require_group("labels")
        for target in corpus.targets:
            write_array(labels, target, corpus.labels[target].to_numpy(np.float32), ITEM_CHUNK)
        ratings = corpus.ratings
        rgroup = group.require_group("ratings")
        write_array(rgroup, "item", ratings["item"].to_numpy(np.int64), RATING_CHUNK)
        write_str(rgroup, "listener", ratings["listener"].astype(str).to_numpy(), RATING_CHUNK)
        for target in corpus.targets:
            write_array(rgroup, target, ratings[target].to_numpy(np.float32), RATING_CHUNK)
        self._write_comparisons(corpus.comparisons)
        group.attrs["targets"] = list(corpus.targets)

    def _write_comparisons(self, comparisons: pd.DataFrame) -> None:
        """``comparisons/``: the corpus's pairwise votes (absent when it has none; removed if it no longer has any)."""
        if not len(comparisons):
            if "comparisons" in self.group:
                del self.group["comparisons"]
            return
        cgroup = self.group.require_group("comparisons")
        for side in ("a", "b"):
            write_array(cgroup, side, comparisons[side].to_numpy(np.int64), RATING_CHUNK)
        for column in COMPARISON_STR_COLUMNS:
            write_str(cgroup, column, comparisons[column].astype(str).to_numpy(), RATING_CHUNK)
        write_array(cgroup, "confidence", comparisons["confidence"].to_numpy(np.float32), RATING_CHUNK)

    # ------------------------------------------------------------------ corpus tables
    def __len__(self) -> int:
        return int(self.group["items/id"].shape[0])

    @property
    def corpus(self) -> str:
        return str(self.group.attrs.get("corpus", ""))

    @property
    def targets(self) -> list[str]:
        """Target names: the ``targets`` attribute, else the arrays under ``labels/``."""
        if "targets" in self.group.attrs:
            return list(self.group.attrs["targets"])
        return sorted(self.group["labels"].array_keys()) if "labels" in self.group else []

    @property
    def splits(self) -> list[str]:
        return list(dict.fromkeys(self.items()["split"]))

    def rows(self, split: str | list[str] | None = None) -> np.ndarray:
        """Row numbers of the items of ``split`` (one name or several; all rows when ``None``)."""
        items = self.items()
        if split is None:
            return np.arange(len(items))
        wanted = [split] if isinstance(split, str) else list(split)
        unknown = sorted(set(wanted) - set(items["split"]))
        if unknown:
            raise ClapmosError(f"{self.path} has no split {', '.join(unknown)}; its splits are {self.splits}.")
        return np.flatnonzero(items["split"].isin(wanted).to_numpy())

    def items(self, split: str | list[str] | None = None) -> pd.DataFrame:
        """Items table (id, path, text, system, split); the index is the row number in the store."""
        if self._items_cache is None:
            self._items_cache = pd.DataFrame({c: self._column(f"items/{c}").astype(str) for c in ITEM_COLUMNS})
        items = self._items_cache
        return items if split is None else items.iloc[self.rows(split)]

    def _column(self, name: str) -> np.ndarray:
        """A table column (``items/id``, ``labels/<target>``...), checked against the digests written with it."""
        return read_column(self.group[name], self.path)

    def segments(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-item ``(start_s, end_s)``: the part of each file that was embedded (NaN: the file's
        start or end), or ``None`` for a store of whole files (the optional ``items/start_s`` and
        ``items/end_s`` arrays are absent)."""
        if "items/start_s" not in self.group:
            return None
        return tuple(np.asarray(self._column(f"items/{c}"), dtype=np.float64) for c in SEGMENT_COLUMNS)

    def write_segments(self, start_s: Sequence[float], end_s: Sequence[float]) -> None:
        """Record that each item is a segment of its file (before any features are written)."""
        for column, values in zip(SEGMENT_COLUMNS, (start_s, end_s)):
            write_array(self.group["items"], column, np.asarray(values, dtype=np.float64), ITEM_CHUNK)

    def labels(self, split: str | list[str] | None = None) -> pd.DataFrame:
        """Per-item scores (float64, as published: see :func:`_decimal`), one column per target, indexed like :meth:`items`."""
        n = len(self)
        frame = pd.DataFrame(
            {t: _decimal(self._column(f"labels/{t}")) if f"labels/{t}" in self.group else np.full(n, np.nan) for t in self.targets}
        )
        return frame if split is None else frame.iloc[self.rows(split)]

    def ratings(self, split: str | list[str] | None = None) -> pd.DataFrame:
        """Long table of single ratings: ``item`` (row number), ``id``, ``listener``, one column per target."""
        columns = ["item", "id", "listener", *self.targets]
        if "ratings/item" not in self.group or self.group["ratings/item"].shape[0] == 0:
            return pd.DataFrame({c: pd.Series(dtype=float if c in self.targets else object) for c in columns})
        r = self.group["ratings"]
        frame = pd.DataFrame({"item": self._column("ratings/item").astype(np.int64), "listener": self._column("ratings/listener").astype(str)})
        frame.insert(1, "id", self.items()["id"].to_numpy()[frame["item"].to_numpy()])
        for t in self.targets:
            frame[t] = _decimal(self._column(f"ratings/{t}")) if t in r else np.nan
        if split is not None:
            frame = frame[np.isin(frame["item"].to_numpy(), self.rows(split))].reset_index(drop=True)
        return frame

    def comparisons(self, split: str | list[str] | None = None) -> pd.DataFrame:
        """Pairwise votes: ``a``, ``b`` (item rows), ``id_a``, ``id_b``, ``prompt``, ``vote``, ``voter``,
        ``dimension``, ``confidence``; with ``split``, the votes whose two clips are both in it. Empty when none."""
        if "comparisons/a" not in self.group:
            frame = empty_comparisons()
        else:
            frame = pd.DataFrame(
                {
                    "a": self._column("comparisons/a").astype(np.int64), "b": self._column("comparisons/b").astype(np.int64),
                    **{column: self._column(f"comparisons/{column}").astype(str) for column in COMPARISON_STR_COLUMNS},
                    "confidence": _decimal(self._column("comparisons/confidence")),
                }
            )[COMPARISON_COLUMNS]
        ids = self.items()["id"].to_numpy()
        frame.insert(2, "id_a", ids[frame["a"].to_numpy()] if len(frame) else pd.Series(dtype=object))
        frame.insert(3, "id_b", ids[frame["b"].to_numpy()] if len(frame) else pd.Series(dtype=object))
        if split is not None and len(frame):
            rows = self.rows(split)
            frame = frame[np.isin(frame["a"].to_numpy(), rows) & np.isin(frame["b"].to_numpy(), rows)].reset_index(drop=True)
        return frame

    # ------------------------------------------------------------------ features (read)
    @property
    def embedders(self) -> list[str]:
        """Names of the embedders with features in this store."""
        if "features" not in self.group:
            return []
        keys = self.group["features"].group_keys()
        return sorted(k for k in keys if not k.startswith(".") and "audio" in self.group[f"features/{k}"])

    def embedder_attrs(self, embedder: str) -> dict[str, Any]:
        """Provenance recorded for ``embedder`` (sample rate, windows, checkpoint, versions...)."""
        return dict(self._features_group(embedder).attrs)

    def done(self, embedder: str) -> np.ndarray:
        """Which rows of ``embedder`` are written (all rows, if the store has no ``done`` mask)."""
        group = self._features_group(embedder)
        if "done" not in group:
            return np.ones(len(self), dtype=bool)
        return self._read_flags(embedder, group["done"], "done flags")

    def _read_flags(self, embedder: str, array: zarr.Array, what: str) -> np.ndarray:
        """A whole per-row array (``done``, frame ``length``...); a chunk that does not decode names its clips."""
        values, broken = seals.read_flags(array)
        if len(broken):
            raise seals.damaged_error(self, embedder, broken, what)
        return values

    def audio(self, embedder: str, split: str | list[str] | None = None) -> np.ndarray:
        """Audio embeddings ``(n, Da)`` of ``split`` (float32)."""
        return self._read_features(embedder, "audio", split)

    def has_text(self, embedder: str) -> bool:
        """Whether ``embedder`` wrote text embeddings (``False`` for an audio-only encoder such as ``hf-audio``)."""
        return "text" in self._features_group(embedder)

    def text(self, embedder: str, split: str | list[str] | None = None) -> np.ndarray:
        """Text embeddings ``(n, Dt)`` of ``split`` (float32); an error for an audio-only embedder."""
        self._require_text(embedder)
        return self._read_features(embedder, "text", split)

    def paired(self, embedder: str, split: str | list[str] | None = None) -> np.ndarray:
        """``hstack(audio, text)``: the input the heads take (see ``heads.PairedEmbeddingFeatures``)."""
        self._require_text(embedder)
        return np.hstack([self.audio(embedder, split), self.text(embedder, split)])

    def _require_text(self, embedder: str) -> None:
        if not self.has_text(embedder):
            raise ClapmosError(
                f"{self.path}: embedder {embedder!r} is audio-only: the store has no text embeddings of it, so it "
                "cannot give text features, audio-text pairs or a zero-shot cosine on its own. Fuse it with a "
                f"text-capable embedder (e.g. `--embedder {embedder},clap`), or use one that embeds text (clap, m2d, hf-clap)."
            )

    def layout(self, embedders: str | Sequence[str]) -> tuple[tuple[str, int, int], ...]:
        """``(embedder, audio_dim, text_dim)`` per embedder (``text_dim`` 0 for an audio-only one), read from the attributes."""
        names = [embedders] if isinstance(embedders, str) else list(embedders)
        missing = [name for name in names if name not in self.embedders]
        if missing:
            have = ", ".join(self.embedders) or "none"
            raise ClapmosError(
                f"{self.path} has no features of embedder{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} (it has: {have}). "
                f"Run `clapmos embed --embedder {missing[0]} --out {self.path} ...` first."
            )
        layout = []
        for name in names:
            group = self._features_group(name)
            layout.append((name, int(group["audio"].shape[1]), int(group["text"].shape[1]) if self.has_text(name) else 0))
        return tuple(layout)

    def stacked(
        self, embedders: str | Sequence[str], split: str | list[str] | None = None
    ) -> tuple[np.ndarray, tuple[tuple[str, int, int], ...]]:
        """Several embedders' vectors side by side, and the :meth:`layout` that names the columns.

        Per embedder, in the order given: its audio vector, then its text vector when it
        has one; this is what ``heads.make_head(..., layout=...)`` reads. One embedder
        with text gives :meth:`paired`.
        """
        layout = self.layout(embedders)
        blocks = []
        for name, _, text_dim in layout:
            blocks += [self.audio(name, split)] + ([self.text(name, split)] if text_dim else [])
        return np.hstack(blocks), layout

    def _features_group(self, embedder: str) -> zarr.Group:
        if embedder not in self.embedders:
            have = ", ".join(self.embedders) or "none"
            raise ClapmosError(
                f"{self.path} has no features of embedder {embedder!r} (it has: {have}). "
                f"Run `clapmos embed --embedder {embedder} --out {self.path} ...` first."
            )
        return self.group[f"features/{embedder}"]

    def _read_features(self, embedder: str, kind: str, split: str | list[str] | None) -> np.ndarray:
        return self.read_rows(embedder, kind, self.rows(split))

    def read_rows(self, embedder: str, kind: str, rows: np.ndarray) -> np.ndarray:
        """The ``kind`` (``audio`` or ``text``) embeddings of the given rows, which must be done (float32)."""
        group = self._features_group(embedder)
        rows = np.asarray(rows, dtype=np.int64)
        missing = rows[~self.done(embedder)[rows]]
        if len(missing):
            raise ClapmosError(
                f"{self.path}: {len(missing)} of {len(rows)} rows of embedder {embedder!r} are not embedded yet. "
                "Run the same `clapmos embed` command again to finish them:\n"
                f"{listing(f'{r.id}: {r.path}' for r in self.items().iloc[missing].itertuples())}"
            )
        whole = len(rows) == len(self) and bool((rows == np.arange(len(self))).all())
        try:
            data, damaged = seals.read_vectors(group, kind, rows, whole)
        except seals.CHUNK_ERRORS:  # a chunk that does not decode: which rows, block by block
            data, damaged = None, self.damaged_rows(embedder, rows, kinds=[kind])
        if len(damaged):
            raise seals.damaged_error(self, embedder, damaged, f"{kind} embeddings")
        self._warn_unsealed(embedder, group)
        return data

    def damaged_rows(self, embedder: str, rows: np.ndarray, kinds: Sequence[str] | None = None, frames: bool = False) -> np.ndarray:
        """Which of ``rows`` (written ones) do not read back as written: a chunk that does not decode, or digests that differ.

        ``kinds`` (default: ``audio`` and ``text``) are the vectors checked; with ``frames``, the
        frame tokens too. Rows of a group written before seals are checked only for decoding.
        """
        group = self._features_group(embedder) if not embedder.startswith(".") else self._writable(embedder)
        kinds = list(kinds or [k for k in ("audio", "text") if k in group])
        rows = np.asarray(rows, dtype=np.int64)
        step = int(group["done"].chunks[0]) if "done" in group else len(self)

        def check(at: np.ndarray) -> np.ndarray:
            bad = [seals.read_vectors(group, kind, at, whole=False)[1] for kind in kinds]
            if frames:
                bad.append(self._damaged_tokens(embedder, at))
            return np.concatenate(bad) if bad else at[:0]

        return np.unique(seals.checked(rows, max(step, 1), check))

    def sealed(self, embedder: str, frames: bool = False) -> bool:
        """Whether ``embedder``'s rows (and, with ``frames``, its frame tokens) carry digests (:mod:`clapmos.embed.store.seals`)."""
        group = self._features_group(embedder)
        return seals.sealed(group) and (not frames or (self.has_frames(embedder) and seals.sealed(group["frames"])))

    def _warn_unsealed(self, embedder: str, group: zarr.Group) -> None:
        if seals.sealed(group) or embedder in self._unsealed_warned:
            return
        import warnings

        self._unsealed_warned.add(embedder)
        warnings.warn(
            f"{self.path}: the {embedder} features carry no checksums (written by an older clapmos, or by another tool), so a "
            f"damaged chunk cannot be told from good numbers; they are used as they are. To seal them, embed them again: "
            f"`clapmos embed ... --embedder {embedder} --out {self.path} --overwrite` (add --frames if the store has frame tokens).",
            stacklevel=4,
        )


def _decimal(values: np.ndarray) -> np.ndarray:
    """float64 scores from the stored float32 ones, by their shortest decimal spelling.

    Scores are published as short decimals (4.8, 7.25); float32 keeps 4.800000190734863.
    Reading back the shortest decimal that rounds to the same float32 gives 4.8 again,
    so means, ties and system levels are the challenges' own.
    """
    values = np.asarray(values)
    if values.dtype != np.float32:
        return values.astype(np.float64)
    return values.astype(str).astype(np.float64)  # numpy prints float32 with its shortest round-trip digits
