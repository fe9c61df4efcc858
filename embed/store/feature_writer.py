"""Writing embeddings into a store: a features group prepared (or checked, or built beside for ``--overwrite``),
then whole chunks of rows written, data first, checksums next, the ``done`` mask last.

This module is a mixin of :class:`clapmos.embed.store.feature_store.FeatureStore`; see
``FeatureStore.prepare_features`` and ``FeatureStore.write_block``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.filesystems import is_url
from clapmos.embed.store import seals
from clapmos.embed.store.frames import Frames
from clapmos.embed.store.schema import identity_of


class FeatureWriterMixin:
    """``prepare_features``, ``pending_blocks``, ``write_block``, ``finish_features`` of :class:`FeatureStore`."""

    def prepare_features(
        self, embedder: str, audio_dim: int, text_dim: int, attrs: dict[str, Any], overwrite: bool = False
    ) -> str:
        """Create ``features/<embedder>`` (or check the existing one matches) before writing rows.

        Returns the name of the group to write rows to (:meth:`pending_blocks`,
        :meth:`write_block`), then call :meth:`finish_features`. Existing features made
        with different dimensions or provenance (another checkpoint, window or hop) are
        an error unless ``overwrite``; with it the new features are built in a hidden
        group beside the old ones, which stay readable until :meth:`finish_features`
        swaps them in (an interrupted overwrite resumes there when run again). ``text_dim=0`` (an audio-only embedder) creates no
        ``text`` array.
        """
        from clapmos.embed.store.replacement import OVERWRITE, hidden_name, new_feature_group, recover_swap

        if overwrite and is_url(self.path):
            from clapmos.embed.filesystems import refuse_swap

            refuse_swap(str(self.path), "--overwrite")
        features = self.group.require_group("features")
        if not is_url(self.path):  # no swap is ever begun on object storage
            recover_swap(self, embedder)
        group = features[embedder] if embedder in features else None
        if group is None or not _complete(group):
            if group is not None:
                if any(group[name].nchunks_initialized for name in group.array_keys()):
                    raise ClapmosError(
                        f"{self.path}: features/{embedder} holds data but no clapmos provenance (another tool wrote it); "
                        f"clapmos leaves it as it is. Embed under another name (--name {embedder}-2) or into another store."
                    )
                del features[embedder]  # made before its attributes, so no row of it was written
            new_feature_group(self, embedder, audio_dim, text_dim, attrs)
            return embedder
        changed = _provenance_changes(group, len(self), audio_dim, text_dim, attrs)
        if not overwrite:
            if changed:
                raise ClapmosError(
                    f"{self.path}: features of {embedder!r} were made differently ({changed}). Pass --overwrite to replace "
                    "them (the new features are built beside the old ones, which stay usable until the new ones are "
                    "complete), or write to another store."
                )
            return embedder
        key = hidden_name(embedder, OVERWRITE)
        staging = features[key] if key in features else None
        if staging is not None and _complete(staging) and not _provenance_changes(staging, len(self), audio_dim, text_dim, attrs):
            return key  # an interrupted overwrite with the same settings: resume it
        if staging is not None:
            del features[key]
        new_feature_group(self, key, audio_dim, text_dim, attrs)
        return key

    def finish_features(self, embedder: str, key: str) -> None:
        """After every row of ``key`` is written: move overwritten features into place (else nothing)."""
        from clapmos.embed.store.replacement import swap_feature_group

        if key != embedder:
            swap_feature_group(self, embedder, key)

    def chunk_rows(self, key: str) -> int:
        """Rows per chunk of ``features/<key>``; writes must be aligned to it."""
        return int(self._writable(key)["done"].chunks[0])

    def pending_blocks(self, key: str, start: int = 0, stop: int | None = None, frames: bool = False) -> list[tuple[int, int]]:
        """Chunk-aligned ``(start, stop)`` row ranges of ``features/<key>`` that still contain rows not done.

        ``start``/``stop`` (chunk-aligned) restrict the search and the part of the ``done``
        mask that is read. With ``frames``, rows whose frame tokens are missing count as
        not done too. Rows whose ``done`` chunk does not decode are not done (:func:`~clapmos.embed.store.seals.read_flags`):
        writing their block again repairs it.
        """
        stop = len(self) if stop is None else stop
        group = self._writable(key)
        done = np.asarray(seals.read_flags(group["done"], start, stop)[0], dtype=bool) if "done" in group else np.ones(stop - start, bool)
        if frames:
            done &= np.asarray(seals.read_flags(group["frames/done"], start, stop)[0], dtype=bool)
        step = self.chunk_rows(key)
        return [(s, min(s + step, stop)) for s in range(start, stop, step) if not done[s - start : s - start + step].all()]

    def write_block(self, key: str, start: int, audio: np.ndarray, text: np.ndarray | None = None, frames: Frames | None = None) -> None:
        """Write rows ``start:start+len(audio)`` (whole chunks) of ``features/<key>`` and their frame tokens if given, then mark them done.

        ``text`` is ``None`` for an audio-only embedder. Embeddings that are not finite are
        refused (nothing of the block is written), so a row marked done always holds usable
        numbers.
        """
        group = self._writable(key)
        stop = start + len(audio)
        step = self.chunk_rows(key)
        if start % step or (stop % step and stop != len(self)):
            raise ValueError(f"block {start}:{stop} is not aligned to chunks of {step} rows")
        if (text is None) == ("text" in group):
            raise ValueError(f"{key}: text is {'missing' if text is None else 'given'} but the store {'has' if 'text' in group else 'has no'} text array")
        audio = np.asarray(audio, dtype=np.float32)
        text = None if text is None else np.asarray(text, dtype=np.float32)
        finite = np.isfinite(audio).all(axis=1) & (True if text is None else np.isfinite(text).all(axis=1))
        if frames is not None:
            finite &= frames.finite_clips()
        bad = np.flatnonzero(~finite)
        if len(bad):
            items = self.items().iloc[start + bad]
            plugin = group.attrs.get("plugin")
            blame = (
                f"The plugin {plugin} ({group.attrs.get('source', '')}) returned them for these files, whose samples are finite "
                "(clapmos checks the audio before embedding): the fault is the plugin's; fix its embed_audio/embed_text."
                if plugin else
                "The model produced them from these files: check the audio (silence is fine; NaN or inf samples, or "
                "extreme values, are not), replace or remove them, and run the same command again."
            )
            raise ClapmosError(
                f"{key.strip('.').split('.')[0]}: the embeddings of {len(bad)} clip(s) are not finite (NaN or inf), "
                f"so rows {start}:{stop} were not written:\n{listing(f'{r.id}: {r.path}' for r in items.itertuples())}\n{blame}"
            )
        group["audio"][start:stop] = audio
        if text is not None:
            group["text"][start:stop] = text
        if seals.sealed(group):  # the digests after the data and before ``done``: a done row is always sealed
            for kind, values in (("audio", audio), ("text", text)):
                if values is not None:
                    group[seals.GROUP][kind][start:stop] = seals.row_digests([values])
        if frames is not None:
            self._write_frames(key, start, frames)
        group["done"][start:stop] = True

    def _writable(self, key: str) -> zarr.Group:
        """``features/<key>``: an embedder's group, or the hidden group an overwrite is building."""
        if key.startswith("."):
            if key not in self.group.require_group("features"):
                raise ClapmosError(f"{self.path}: no features/{key} to write to; call prepare_features first.")
            return self.group[f"features/{key}"]
        return self._features_group(key)


def _complete(group: zarr.Group) -> bool:
    """A features group whose arrays and attributes are all written (attributes come last; no text array when audio-only)."""
    if "embedder" not in group.attrs:
        return False
    arrays = ("audio", "done") if group.attrs.get("text_dim") == 0 else ("audio", "text", "done")  # as it was made
    return all(k in group for k in arrays)


def _provenance_changes(group: zarr.Group, n: int, audio_dim: int, text_dim: int, attrs: dict[str, Any]) -> str:
    """What differs between the features in ``group`` and a run with ``attrs`` ("" when nothing does)."""
    old = identity_of(dict(group.attrs))
    changed = {k: (old.get(k), v) for k, v in identity_of(attrs).items() if old.get(k) != v}
    old_text_dim = group["text"].shape[1] if "text" in group else 0
    if group["audio"].shape != (n, audio_dim) or old_text_dim != text_dim:
        changed["dims"] = (f"{group['audio'].shape[1]}/{old_text_dim}", f"{audio_dim}/{text_dim}")
    return "; ".join(f"{k}: store has {a!r}, this run {b!r}" for k, (a, b) in changed.items())
