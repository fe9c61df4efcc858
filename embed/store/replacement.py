"""Replacing what a store holds without ever losing it: new stores and new features are built
beside the old ones and swapped in only when complete.

Three cases, each resumable after an interruption:

* **a new store** (or a store without any embedded row, rebuilt from other items) is
  written to ``.<name>.partial`` beside ``--out`` and renamed into place at once;
* **``embed --rebuild``** (the corpus's items changed): the new store is written to
  ``.<name>.rebuild``, the features of every clip whose id, audio path and text did not
  change are copied over from the old store (every embedder), the named embedder
  embeds the rest, and only then does the new store replace the old one. Rows that do not
  read back as written (:mod:`~clapmos.embed.store.seals`) are not copied: they are embedded
  again, named in a warning. An interrupted rebuild resumes in ``.<name>.rebuild``; until the
  swap the old store is untouched;
* **``embed --overwrite``** (re-embed one embedder, e.g. with another checkpoint): the
  new features go to the hidden group ``features/.<embedder>.overwrite``; the old
  features stay readable (``info``, ``fit``) until every new row is written, then the
  groups are swapped by renaming. Other embedders are never touched.

clapmos only ever replaces what it wrote: a path that is a file, a folder that is not a
clapmos store, the corpus's own folder or a folder above it are refused.

>>> hidden_name("clap", OVERWRITE)
'.clap.overwrite'
"""

from __future__ import annotations

import datetime as _dt
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr

from clapmos.embed.corpora.table import ITEM_COLUMNS, Corpus
from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.files import STAGING_MARK, refuse_link, remove_staging, restore_swapped_out, staging_folder, staging_path, swap_in
from clapmos.embed.ownership import check_replaceable

from clapmos.embed.store import schema, seals
from clapmos.embed.store.schema import is_clapmos_store

if TYPE_CHECKING:
    from clapmos.embed.store.feature_store import FeatureStore

OVERWRITE = "overwrite"  # features/.<embedder>.overwrite: new features being built
OLD = "old"  # features/.<embedder>.old: the replaced features, during the swap only
REBUILD = "rebuild"  # .<store>.rebuild: a store being rebuilt from new items
MATCHED_COLUMNS = ["id", "path", "text"]  # a clip whose features carry over into a rebuilt store


def hidden_name(embedder: str, kind: str) -> str:
    """Name of the hidden features group of ``embedder`` for ``kind`` (``overwrite`` or ``old``)."""
    return f".{embedder}.{kind}"


# --------------------------------------------------------------------------- destinations
def check_destination(path: Path) -> None:
    """Refuse a ``--out`` that is a link, a file or a folder that is not a clapmos store (the corpus's own folder
    among them; :func:`rebuild_store` also refuses to replace a store that holds corpus files)."""
    refuse_link(path)
    restore_swapped_out(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise ClapmosError(f"--out {path} is a file, not a store folder; clapmos leaves it alone. Choose a new name such as {path.with_suffix('.zarr')}.")
    if not is_clapmos_store(path) and any(path.iterdir()):
        raise ClapmosError(
            f"--out {path} is a folder that is not a clapmos store; clapmos never writes into or replaces folders it did "
            f"not create (not even with --overwrite or --rebuild). Choose a new name such as {path / 'store.zarr'}."
        )


def _replaceable_store(path: Path) -> None:
    """Refuse to replace a store that is not one, or that holds anything besides its arrays (a file or folder the user put there)."""
    if not is_clapmos_store(path) and any(path.iterdir()):
        raise ClapmosError(f"{path} exists and is not a clapmos store; it is left as it is.")
    check_replaceable([path], "--out")


def _corpus_inside(folder: Path, corpus: Corpus) -> str | None:
    """A corpus file (its list or one of its audio files) under ``folder``, if there is one."""
    sources = [Path(corpus.source)] if corpus.source else []
    for candidate in [*sources, *map(Path, corpus.items["path"])]:
        resolved = candidate.resolve()
        if resolved == folder or folder in resolved.parents:
            return str(candidate)
    return None


# --------------------------------------------------------------------------- whole stores
def build_store(cls: type[FeatureStore], path: Path, corpus: Corpus) -> FeatureStore:
    """A new store for ``corpus`` at ``path``, built beside it and renamed into place."""
    staging = staging_folder(path)
    _write_new_store(cls, staging, corpus)
    swap_in(staging, path, check=_replaceable_store)
    return cls.open(path, mode="r+")


def rebuild_store(old: FeatureStore, corpus: Corpus, commit_now: bool = False) -> FeatureStore:
    """A store for ``corpus`` beside ``old``, holding the features of its unchanged clips.

    It replaces ``old`` when :func:`commit_store` is called (at once if ``commit_now``).
    """
    final = Path(old.path)
    inside = _corpus_inside(final.resolve(), corpus)
    if inside:
        raise ClapmosError(f"{final} holds the corpus itself ({inside}): it cannot be replaced. Write the store somewhere else.")
    _replaceable_store(final)  # a file or folder the user put in the store: refused before any work
    framed = [e for e in old.embedders if old.has_frames(e)]
    if framed:
        raise ClapmosError(
            f"{final} holds frame tokens of {', '.join(framed)}, which --rebuild cannot carry over to new items yet; the store "
            "is left as it is. Write the store for the new items to another --out (with --frames for the frame heads)."
        )
    path = staging_path(final, REBUILD)
    if is_clapmos_store(path) and (path / STAGING_MARK).is_file():
        resumed = type(old).open(path, mode="r+")
        if resumed._item_difference(corpus) is None:  # an interrupted rebuild from the same items
            resumed._write_labels(corpus)
            resumed.final_path = final
            return commit_store(resumed) if commit_now else resumed
    remove_staging(path)
    staging = staging_folder(final, REBUILD)
    new = type(old)(_write_new_store(type(old), staging, corpus), staging, final_path=final)
    for embedder in old.embedders:
        _carry_over(old, new, embedder)
    return commit_store(new) if commit_now else new


def discard_rebuild(path: Path) -> None:
    """Remove an unfinished rebuild of the store at ``path`` (its staging folder), if there is one."""
    remove_staging(staging_path(path, REBUILD))


def commit_store(store: FeatureStore) -> FeatureStore:
    """Move a rebuilt store to the place of the store it replaces; returns it, reopened there."""
    final = store.final_path
    swap_in(Path(store.path), final, check=_replaceable_store)
    store.path, store.final_path = final, None
    store.group = zarr.open_group(final, mode="r+")
    return store


def _write_new_store(cls: type[FeatureStore], folder: Path, corpus: Corpus) -> zarr.Group:
    group = zarr.create_group(
        store=str(folder),
        attributes={
            "clapmos_store_version": schema.STORE_VERSION,
            "corpus": corpus.name,
            "targets": list(corpus.targets),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "source": corpus.source,
        },
    )
    for column in ITEM_COLUMNS:
        schema.write_str(group, f"items/{column}", corpus.items[column].astype(str).to_numpy(), schema.ITEM_CHUNK)
    cls(group, folder)._write_labels(corpus)
    group.require_group("features")
    return group


def _carry_over(old: FeatureStore, new: FeatureStore, embedder: str) -> None:
    """Copy ``embedder``'s rows of the clips both stores share (same id, path and text) into ``new``.

    Rows that do not read back as written (their ``done``, vector or digest chunk does not decode, or their
    digests differ) are not copied, so they are embedded again; a warning names them.
    """
    source = old.group[f"features/{embedder}"]
    if "done" not in source or "embedder" not in source.attrs:
        return
    attrs = dict(source.attrs)
    audio_dim, text_dim = int(source["audio"].shape[1]), int(source["text"].shape[1]) if "text" in source else 0
    new_feature_group(new, embedder, audio_dim, text_dim, {k: v for k, v in attrs.items() if k not in ("audio_dim", "text_dim", "chunk_rows")})
    done, broken = seals.read_flags(source["done"])
    done = np.asarray(done, dtype=bool)
    items = old.items()
    key = items[MATCHED_COLUMNS].astype(str).agg("\x1f".join, axis=1)
    wanted = new.items()[MATCHED_COLUMNS].astype(str).agg("\x1f".join, axis=1).map({k: i for i, k in enumerate(key)})
    target = np.flatnonzero(wanted.notna().to_numpy())
    rows = wanted.iloc[target].to_numpy(dtype=np.int64)
    damaged = np.union1d(np.intersect1d(rows, broken), old.damaged_rows(embedder, np.unique(rows[done[rows]])))
    if len(damaged):
        warnings.warn(
            f"{old.path}: the stored features of {len(damaged)} clip(s) of {embedder} are damaged (a chunk of the store was "
            f"deleted, truncated or changed after clapmos wrote it), so --rebuild does not carry them over:\n"
            f"{listing(f'{r.id}: {r.path}' for r in items.iloc[damaged].itertuples())}\n"
            f"They are embedded again: by this rebuild if it embeds {embedder}, else by the next `clapmos embed --embedder {embedder}`.",
            stacklevel=4,
        )
    keep = done[rows] & ~np.isin(rows, damaged)
    target, rows = target[keep], rows[keep]
    if not len(target):
        return
    group = new.group[f"features/{embedder}"]
    for kind in ("audio", "text") if text_dim else ("audio",):
        values = np.full(group[kind].shape, np.nan, dtype=np.float32)
        values[target] = source[kind].get_orthogonal_selection((rows, slice(None)))
        group[kind][:] = values
        digests = np.zeros(len(new), dtype=np.uint64)  # the old rows' digests move with them: still checked when read
        if seals.sealed(source):
            digests[target] = source[seals.GROUP][kind].get_coordinate_selection(rows)
        else:  # rows of a store written before seals: sealed as they are now
            digests[target] = seals.row_digests([values[target]])
        group[seals.GROUP][kind][:] = digests
    copied = np.zeros(len(new), dtype=bool)
    copied[target] = True
    group["done"][:] = copied


# --------------------------------------------------------------------------- features of one embedder
def new_feature_group(store: FeatureStore, key: str, audio_dim: int, text_dim: int, attrs: dict[str, Any]) -> None:
    """Create the arrays of ``features/<key>``, attributes last (a group without them has no rows)."""
    n = len(store)
    group = store.group.require_group("features").create_group(key)
    chunk = min(schema.FEATURE_CHUNK, max(n, 1))
    group.create_array("audio", shape=(n, audio_dim), dtype="float32", chunks=(chunk, audio_dim), fill_value=np.nan)
    if text_dim:  # an audio-only embedder has no text array
        group.create_array("text", shape=(n, text_dim), dtype="float32", chunks=(chunk, text_dim), fill_value=np.nan)
    group.create_array("done", shape=(n,), dtype="bool", chunks=(chunk,), fill_value=False)
    seals.create_seals(group.create_group(seals.GROUP), ["audio", "text"] if text_dim else ["audio"], n, chunk)
    group.attrs.update({**attrs, "audio_dim": audio_dim, "text_dim": text_dim, "chunk_rows": chunk})


def swap_feature_group(store: FeatureStore, embedder: str, key: str) -> None:
    """Put the finished group ``key`` in the place of ``features/<embedder>``; then delete the old one."""
    done, broken = seals.read_flags(store.group[f"features/{key}/done"])
    if len(broken):  # the new rows are not known to be written: the same command writes them again (pending_blocks)
        raise seals.damaged_error(store, embedder, broken, "done flags of the new features")
    missing = np.flatnonzero(~np.asarray(done, dtype=bool))
    if len(missing):
        raise ClapmosError(
            f"{store.path}: {len(missing)} rows of the new {embedder} features are not written yet (the old ones are kept); "
            f"run the same command again to write them:\n{listing(f'{r.id}: {r.path}' for r in store.items().iloc[missing].itertuples())}"
        )
    folder = Path(store.path) / "features"
    old = folder / hidden_name(embedder, OLD)
    if old.exists():
        shutil.rmtree(old)
    if (folder / embedder).exists():
        (folder / embedder).rename(old)
    (folder / key).rename(folder / embedder)
    if old.exists():
        shutil.rmtree(old)
    store.group = zarr.open_group(store.path, mode="r+")


def recover_swap(store: FeatureStore, embedder: str) -> None:
    """Finish or undo a swap of ``embedder``'s features that was interrupted between its two renames."""
    folder = Path(store.path) / "features"
    old, new, live = folder / hidden_name(embedder, OLD), folder / hidden_name(embedder, OVERWRITE), folder / embedder
    if not old.exists():
        return
    if not live.exists():
        if new.exists():
            new.rename(live)  # the new features were complete: the swap was under way
        else:
            old.rename(live)
            store.group = zarr.open_group(store.path, mode="r+")
            return
    shutil.rmtree(old)
    store.group = zarr.open_group(store.path, mode="r+")
