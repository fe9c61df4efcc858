"""What ``clapmos info STORE`` prints: the corpus, splits, targets, votes and each embedder's state, in a few lines.

This module is a mixin of :class:`clapmos.embed.store.feature_store.FeatureStore`; see ``FeatureStore.summary``.
"""

from __future__ import annotations

import numpy as np

from clapmos.embed.store import seals


class StoreSummaryMixin:
    """``summary`` of :class:`FeatureStore`."""

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
        lines += self._comparisons_summary()
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
            done, damaged = self._done_flags(f"features/{name}")
            lines.append(
                f"embedder   {name}: audio {attrs.get('audio_dim')}-d, "
                + (f"text {attrs.get('text_dim')}-d, " if self.has_text(name) else "no text (audio-only), ")
                + f"{attrs.get('sample_rate', '?')} Hz, window {attrs.get('window_s', '?')} s / hop {attrs.get('hop_s', '?')} s, "
                f"{int(done.sum())}/{len(done)} rows done{damaged}"
                + (f", checkpoint {attrs['checkpoint']} (sha256 {str(attrs.get('checkpoint_sha256', ''))[:12]}…)" if attrs.get("checkpoint") else "")
            )
            lines += self._pending_overwrite(name)
            lines += [line for line in [self.frames_summary(name)] if line]
        return "\n".join(lines)

    def _comparisons_summary(self) -> list[str]:
        """``comparisons`` lines of :meth:`summary`: votes per dimension, their labels, voters and confidence."""
        votes = self.comparisons()
        if not len(votes):
            return []
        lines = [
            f"comparisons {len(votes)} pairwise votes of {len(set(votes['a']) | set(votes['b']))} clips, "
            f"{votes['voter'].replace('', np.nan).nunique()} voters"
            + (f", confidence given for {int(votes['confidence'].notna().sum())}" if votes["confidence"].notna().any() else "")
        ]
        for dimension, group in votes.groupby("dimension", sort=False):
            counts = ", ".join(f"{label} {n}" for label, n in group["vote"].value_counts().sort_index().items())
            lines.append(f"comparison  {dimension}: {len(group)} votes ({counts})")
        return lines

    def _pending_overwrite(self, embedder: str) -> list[str]:
        from clapmos.embed.store.replacement import OVERWRITE, hidden_name

        key = hidden_name(embedder, OVERWRITE)
        if key not in self.group["features"] or "done" not in self.group[f"features/{key}"]:
            return []
        done, damaged = self._done_flags(f"features/{key}")
        return [
            f"           replacement of {embedder} (--overwrite) in progress: {int(done.sum())}/{len(done)} rows{damaged}; "
            "run the same embed command again to finish it"
        ]

    def _done_flags(self, group: str) -> tuple[np.ndarray, str]:
        """The ``done`` flags of a features group (all rows, without a mask) and what :meth:`summary` says of their
        damaged chunks ("" when none): ``info`` reports damage, it never stops at it."""
        if "done" not in self.group[group]:
            return np.ones(len(self), dtype=bool), ""
        done, broken = seals.read_flags(self.group[f"{group}/done"])
        damaged = f" (done flags damaged in rows {seals.row_spans(broken)}; the same embed command embeds them again)" if len(broken) else ""
        return np.asarray(done, dtype=bool), damaged
