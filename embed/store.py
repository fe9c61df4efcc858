"""The Zarr v3 feature store: one corpus's items, labels, ratings and embeddings.

The schema is written down once, in the README ("The store"). In short::

    attrs: clapmos_store_version, corpus, targets, created
    items/{id,path,text,system,split}   (N,) str
    labels/<target>                     (N,) float32, NaN = unknown
    ratings/item (R,) int64, ratings/listener (R,) str, ratings/<target> (R,) float32
    features/<embedder>/audio (N, Da) float32, .../text (N, Dt) float32, .../done (N,) bool
    features/<embedder>/frames/...      frame tokens, optional (version 2; see embed.frame_store)

Readers accept any store with these fields, whoever wrote it. Embeddings are written
in whole chunks of rows, data first and the ``done`` mask last, and zarr writes each
chunk file atomically; so a run killed at any moment leaves a store whose ``done``
rows are all complete, and the next run only does the rest.

>>> import tempfile, pandas as pd
>>> from embed.corpora.table import Corpus
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

import datetime as _dt
import shutil
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import zarr

from embed.corpora.table import ITEM_COLUMNS, Corpus
from embed.errors import ClapmosError, listing
from embed.frame_store import FrameStoreMixin
from embed.frames import Frames

STORE_VERSION = 2  # 2: optional frame tokens (embed.frame_store); version-1 readers still read everything else
ITEM_CHUNK = 4096
RATING_CHUNK = 65536
FEATURE_CHUNK = 64  # rows per chunk of features/<embedder>/*; embed writes whole chunks
CHECKED_COLUMNS = ["id", "text", "system", "split"]  # must match to add features to an existing store


class FeatureStore(FrameStoreMixin):
    """A clapmos store on disk (a Zarr v3 group). Open with :meth:`open` or :meth:`create`.

    Frame tokens (``frames``, ``iter_frames``, ``prepare_frames``...) come from
    :class:`embed.frame_store.FrameStoreMixin`.
    """

    def __init__(self, group: zarr.Group, path: Path) -> None:
        self.group = group
        self.path = path
        self._items_cache: pd.DataFrame | None = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, mode: str = "r") -> "FeatureStore":
        """Open an existing store (``mode="r"`` to read, ``"r+"`` to add features)."""
        path = Path(path)
        if not path.exists():
            raise ClapmosError(f"{path}: no such store. Create one with `python cli.py embed ... --out {path}`.")
        try:
            group = zarr.open_group(path, mode=mode)
        except Exception as error:  # zarr raises several types for "not a group"
            raise ClapmosError(f"{path} is not a Zarr store ({error}).") from None
        missing = [f"items/{c}" for c in ITEM_COLUMNS if f"items/{c}" not in group]
        if missing:
            raise ClapmosError(f"{path} is not a clapmos store: it lacks {', '.join(missing)}.")
        return cls(group, path)

    @classmethod
    def create(cls, path: str | Path, corpus: Corpus, overwrite: bool = False) -> "FeatureStore":
        """Write ``corpus`` into a new store at ``path``, or reopen the store already there.

        An existing store is reused when it holds the same items (ids, texts, systems
        and splits, in order) so that embedders can be added or a run resumed; its
        labels and ratings are refreshed from ``corpus``. A store built from other
        items is an error unless ``overwrite``, which deletes it first.
        """
        path = Path(path)
        corpus.validate()
        if path.exists():
            if overwrite:
                shutil.rmtree(path)
            else:
                store = cls.open(path, mode="r+")
                store._check_same_items(corpus)
                store._write_labels(corpus)
                return store
        # Build next to the target and rename, so that a half-written store never exists at `path`.
        tmp = path.with_name(f".{path.name}.partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        group = zarr.create_group(
            store=str(tmp),
            attributes={
                "clapmos_store_version": STORE_VERSION,
                "corpus": corpus.name,
                "targets": list(corpus.targets),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "source": corpus.source,
            },
        )
        for column in ITEM_COLUMNS:
            _write_str(group, f"items/{column}", corpus.items[column].astype(str).to_numpy(), ITEM_CHUNK)
        store = cls(group, tmp)
        store._write_labels(corpus)
        group.require_group("features")
        tmp.rename(path)
        return cls.open(path, mode="r+")

    def _check_same_items(self, corpus: Corpus) -> None:
        mine = self.items()
        theirs = corpus.items.reset_index(drop=True)
        if len(mine) != len(theirs):
            raise ClapmosError(
                f"{self.path} holds {len(mine)} items but the corpus read now has {len(theirs)}. "
                "Write to another --out, or pass --overwrite to rebuild this store (its features are lost)."
            )
        for column in CHECKED_COLUMNS:
            differs = np.flatnonzero(mine[column].to_numpy() != theirs[column].astype(str).to_numpy())
            if len(differs):
                rows = [f"row {i}: store {mine[column].iat[i]!r} vs corpus {theirs[column].iat[i]!r}" for i in differs]
                raise ClapmosError(
                    f"{self.path} was built from other items ({len(differs)} differ in '{column}'):\n"
                    f"{listing(rows, 5)}\nWrite to another --out, or pass --overwrite to rebuild this store."
                )

    def _write_labels(self, corpus: Corpus) -> None:
        group = self.group
        labels = group.require_group("labels")
        for target in corpus.targets:
            _write_array(labels, target, corpus.labels[target].to_numpy(np.float32), ITEM_CHUNK)
        ratings = corpus.ratings
        rgroup = group.require_group("ratings")
        _write_array(rgroup, "item", ratings["item"].to_numpy(np.int64), RATING_CHUNK)
        _write_str(rgroup, "listener", ratings["listener"].astype(str).to_numpy(), RATING_CHUNK)
        for target in corpus.targets:
            _write_array(rgroup, target, ratings[target].to_numpy(np.float32), RATING_CHUNK)
        group.attrs["targets"] = list(corpus.targets)

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
            self._items_cache = pd.DataFrame({c: self.group[f"items/{c}"][:].astype(str) for c in ITEM_COLUMNS})
        items = self._items_cache
        return items if split is None else items.iloc[self.rows(split)]

    def labels(self, split: str | list[str] | None = None) -> pd.DataFrame:
        """Per-item scores (float64, as published: see :func:`_decimal`), one column per target, indexed like :meth:`items`."""
        n = len(self)
        frame = pd.DataFrame(
            {t: _decimal(self.group[f"labels/{t}"][:]) if f"labels/{t}" in self.group else np.full(n, np.nan) for t in self.targets}
        )
        return frame if split is None else frame.iloc[self.rows(split)]

    def ratings(self, split: str | list[str] | None = None) -> pd.DataFrame:
        """Long table of single ratings: ``item`` (row number), ``id``, ``listener``, one column per target."""
        columns = ["item", "id", "listener", *self.targets]
        if "ratings/item" not in self.group or self.group["ratings/item"].shape[0] == 0:
            return pd.DataFrame({c: pd.Series(dtype=float if c in self.targets else object) for c in columns})
        r = self.group["ratings"]
        frame = pd.DataFrame({"item": r["item"][:].astype(np.int64), "listener": r["listener"][:].astype(str)})
        frame.insert(1, "id", self.items()["id"].to_numpy()[frame["item"].to_numpy()])
        for t in self.targets:
            frame[t] = _decimal(r[t][:]) if t in r else np.nan
        if split is not None:
            frame = frame[np.isin(frame["item"].to_numpy(), self.rows(split))].reset_index(drop=True)
        return frame

    # ------------------------------------------------------------------ features (read)
    @property
    def embedders(self) -> list[str]:
        """Names of the embedders with features in this store."""
        if "features" not in self.group:
            return []
        return sorted(k for k in self.group["features"].group_keys() if "audio" in self.group[f"features/{k}"])

    def embedder_attrs(self, embedder: str) -> dict[str, Any]:
        """Provenance recorded for ``embedder`` (sample rate, windows, checkpoint, versions...)."""
        return dict(self._features_group(embedder).attrs)

    def done(self, embedder: str) -> np.ndarray:
        """Which rows of ``embedder`` are written (all rows, if the store has no ``done`` mask)."""
        group = self._features_group(embedder)
        if "done" not in group:
            return np.ones(len(self), dtype=bool)
        return np.asarray(group["done"][:], dtype=bool)

    def audio(self, embedder: str, split: str | list[str] | None = None) -> np.ndarray:
        """Audio embeddings ``(n, Da)`` of ``split`` (float32)."""
        return self._read_features(embedder, "audio", split)

    def text(self, embedder: str, split: str | list[str] | None = None) -> np.ndarray:
        """Text embeddings ``(n, Dt)`` of ``split`` (float32)."""
        return self._read_features(embedder, "text", split)

    def paired(self, embedder: str, split: str | list[str] | None = None) -> np.ndarray:
        """``hstack(audio, text)``: the input the heads take (see ``heads.PairedEmbeddingFeatures``)."""
        return np.hstack([self.audio(embedder, split), self.text(embedder, split)])

    def has_text(self, embedder: str) -> bool:
        """Whether ``embedder`` wrote text embeddings (audio-only embedders do not)."""
        group = self._features_group(embedder)
        return "text" in group and int(group.attrs.get("text_dim", group["text"].shape[1])) > 0

    def layout(self, embedders: str | Sequence[str]) -> tuple[tuple[str, int, int], ...]:
        """``(embedder, audio_dim, text_dim)`` per embedder (``text_dim`` 0 for an audio-only one), read from the attributes."""
        names = [embedders] if isinstance(embedders, str) else list(embedders)
        missing = [name for name in names if name not in self.embedders]
        if missing:
            have = ", ".join(self.embedders) or "none"
            raise ClapmosError(
                f"{self.path} has no features of embedder{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} (it has: {have}). "
                f"Run `python cli.py embed --embedder {missing[0]} --out {self.path} ...` first."
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
                f"Run `python cli.py embed --embedder {embedder} --out {self.path} ...` first."
            )
        return self.group[f"features/{embedder}"]

    def _read_features(self, embedder: str, kind: str, split: str | list[str] | None) -> np.ndarray:
        group = self._features_group(embedder)
        rows = self.rows(split)
        missing = rows[~self.done(embedder)[rows]]
        if len(missing):
            raise ClapmosError(
                f"{self.path}: {len(missing)} of {len(rows)} rows of embedder {embedder!r} are not embedded yet. "
                "Run the same `python cli.py embed` command again to finish them."
            )
        array = group[kind]
        data = array[:] if len(rows) == len(self) else array.get_orthogonal_selection((rows, slice(None)))
        return np.asarray(data, dtype=np.float32)

    # ------------------------------------------------------------------ features (write)
    def prepare_features(
        self, embedder: str, audio_dim: int, text_dim: int, attrs: dict[str, Any], overwrite: bool = False
    ) -> None:
        """Create ``features/<embedder>`` (or check the existing one matches) before writing rows.

        An existing group made with different dimensions or provenance (another
        checkpoint, window or hop) is an error unless ``overwrite``.
        """
        features = self.group.require_group("features")
        n = len(self)
        if embedder in features and not overwrite:
            group = features[embedder]
            complete = all(k in group for k in ("audio", "text", "done")) and "embedder" in group.attrs
            if complete:
                old = identity_of(dict(group.attrs))
                changed = {k: (old.get(k), v) for k, v in identity_of(attrs).items() if old.get(k) != v}
                if group["audio"].shape != (n, audio_dim) or group["text"].shape != (n, text_dim):
                    changed["dims"] = (
                        f"{group['audio'].shape[1]}/{group['text'].shape[1]}",
                        f"{audio_dim}/{text_dim}",
                    )
                if changed:
                    what = "; ".join(f"{k}: store has {a!r}, this run {b!r}" for k, (a, b) in changed.items())
                    raise ClapmosError(
                        f"{self.path}: features of {embedder!r} were made differently ({what}). "
                        "Pass --overwrite to replace them, or write to another store."
                    )
                return
        if embedder in features:
            del features[embedder]
        group = features.create_group(embedder)
        chunk = min(FEATURE_CHUNK, max(n, 1))
        group.create_array("audio", shape=(n, audio_dim), dtype="float32", chunks=(chunk, audio_dim), fill_value=np.nan)
        group.create_array("text", shape=(n, text_dim), dtype="float32", chunks=(chunk, text_dim), fill_value=np.nan)
        group.create_array("done", shape=(n,), dtype="bool", chunks=(chunk,), fill_value=False)
        # attributes last: a group without them is treated as unfinished and rebuilt
        group.attrs.update({**attrs, "audio_dim": audio_dim, "text_dim": text_dim, "chunk_rows": chunk})

    def chunk_rows(self, embedder: str) -> int:
        """Rows per chunk of ``features/<embedder>``; writes must be aligned to it."""
        return int(self._features_group(embedder)["done"].chunks[0])

    def pending_blocks(self, embedder: str, start: int = 0, stop: int | None = None, frames: bool = False) -> list[tuple[int, int]]:
        """Chunk-aligned ``(start, stop)`` row ranges that still contain rows not done.

        ``start``/``stop`` (chunk-aligned) restrict the search and the part of the ``done``
        mask that is read. With ``frames``, rows whose frame tokens are missing count as
        not done too.
        """
        stop = len(self) if stop is None else stop
        group = self._features_group(embedder)
        done = np.asarray(group["done"][start:stop], dtype=bool) if "done" in group else np.ones(stop - start, bool)
        if frames:
            done &= np.asarray(group["frames/done"][start:stop], dtype=bool)
        step = self.chunk_rows(embedder)
        return [(s, min(s + step, stop)) for s in range(start, stop, step) if not done[s - start : s - start + step].all()]

    def write_block(self, embedder: str, start: int, audio: np.ndarray, text: np.ndarray, frames: Frames | None = None) -> None:
        """Write rows ``start:start+len(audio)`` (whole chunks) and their frame tokens if given, then mark them done."""
        group = self._features_group(embedder)
        stop = start + len(audio)
        step = self.chunk_rows(embedder)
        if start % step or (stop % step and stop != len(self)):
            raise ValueError(f"block {start}:{stop} is not aligned to chunks of {step} rows")
        group["audio"][start:stop] = np.asarray(audio, dtype=np.float32)
        group["text"][start:stop] = np.asarray(text, dtype=np.float32)
        if frames is not None:
            self._write_frames(embedder, start, frames)
        group["done"][start:stop] = True

    # ------------------------------------------------------------------ summary
    def summary(self) -> str:
        """A few lines describing the store (what ``cli.py info`` prints)."""
        items = self.items()
        labels = self.labels()
        ratings = self.ratings()
        lines = [
            f"store      {self.path}",
            f"corpus     {self.corpus}  (store version {self.group.attrs.get('clapmos_store_version', '?')}, "
            f"created {self.group.attrs.get('created', '?')})",
            f"items      {len(items)} clips, {items['system'].replace('', np.nan).nunique()} systems, "
            f"{ratings['listener'].nunique() if len(ratings) else 0} listeners, {len(ratings)} ratings",
            "splits     " + ", ".join(f"{s} {n}" for s, n in items["split"].value_counts(sort=False).items()),
        ]
        for target in self.targets:
            known = labels[target].notna()
            lines.append(
                f"target     {target}: {int(known.sum())} labelled"
                + (f", mean {labels[target][known].mean():.3f}, range {labels[target].min():.2f}–{labels[target].max():.2f}" if known.any() else "")
            )
        if not self.embedders:
            lines.append("embedders  none yet")
        for name in self.embedders:
            attrs = self.embedder_attrs(name)
            done = self.done(name)
            lines.append(
                f"embedder   {name}: audio {attrs.get('audio_dim')}-d, text {attrs.get('text_dim')}-d, "
                f"{attrs.get('sample_rate', '?')} Hz, window {attrs.get('window_s', '?')} s / hop {attrs.get('hop_s', '?')} s, "
                f"{int(done.sum())}/{len(done)} rows done"
                + (f", checkpoint {attrs['checkpoint']} (sha256 {str(attrs.get('checkpoint_sha256', ''))[:12]}…)" if attrs.get("checkpoint") else "")
            )
            lines += [line for line in [self.frames_summary(name)] if line]
        return "\n".join(lines)


#: Provenance that makes two sets of features interchangeable: a change in any of them makes
#: stored features stale (``embed`` refuses to mix them) and a fitted model refuses them
#: (``heads.runs``). So are every ``*_sha256`` attribute (checkpoints, weights, plugin files)
#: and the keys an embedder lists in its provenance under ``identity_keys`` (e.g. a layer).
IDENTITY_ATTRS = (
    "embedder", "audio_dim", "text_dim", "sample_rate", "window_s", "hop_s", "pooling", "checkpoint_sha256", "precision",
)


def identity_of(attrs: dict[str, Any]) -> dict[str, Any]:
    """The part of an embedder's provenance that decides whether features are interchangeable.

    >>> identity_of({"embedder": "clap", "created": "today", "checkpoint_sha256": "ab", "layer": 3, "identity_keys": ["layer"]})
    {'embedder': 'clap', 'checkpoint_sha256': 'ab', 'layer': 3.0}
    """
    extra = set(attrs.get("identity_keys") or ())
    return {
        key: _normalise(value)
        for key, value in attrs.items()
        if key in IDENTITY_ATTRS or key.endswith("_sha256") or key in extra
    }


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


def _normalise(value: Any) -> Any:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _write_array(group: zarr.Group, name: str, values: np.ndarray, chunk: int) -> None:
    if name in group:
        del group[name]
    array = group.create_array(name, shape=values.shape, dtype=values.dtype, chunks=(max(1, min(chunk, len(values))),))
    if len(values):
        array[:] = values


def _write_str(group: zarr.Group, name: str, values: np.ndarray, chunk: int) -> None:
    parent, _, leaf = name.rpartition("/")
    target = group.require_group(parent) if parent else group
    if leaf in target:
        del target[leaf]
    array = target.create_array(leaf, shape=values.shape, dtype=str, chunks=(max(1, min(chunk, len(values))),))
    if len(values):
        array[:] = np.asarray(values, dtype=object)
