"""Corpus readers: each layout of ``DATA.md`` becomes one :class:`Corpus`.

>>> sorted(CORPUS_READERS)
['audiobox-aes', 'audiomos-track2', 'manifest', 'musiceval', 'musiceval-eval', 'preferences', 'songeval', 'xacle']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clapmos.embed.corpora.audiobox import read_audiobox_aes
from clapmos.embed.corpora.audiomos_track2 import read_audiomos_track2
from clapmos.embed.corpora.manifest import read_manifest
from clapmos.embed.corpora.musiceval import read_musiceval, read_musiceval_eval
from clapmos.embed.corpora.preferences import read_preferences
from clapmos.embed.corpora.songeval import read_songeval
from clapmos.embed.corpora.table import Corpus
from clapmos.embed.corpora.xacle import read_xacle
from clapmos.embed.errors import ClapmosError

CORPUS_READERS: dict[str, Callable[..., Corpus]] = {
    "musiceval": read_musiceval,
    "musiceval-eval": read_musiceval_eval,
    "xacle": read_xacle,
    "manifest": read_manifest,
    "songeval": read_songeval,
    "audiobox-aes": read_audiobox_aes,
    "audiomos-track2": read_audiomos_track2,
    "preferences": read_preferences,
}


def read_corpus(
    name: str, root: str | Path, splits: list[str] | None = None, score_ranges: dict[str, tuple[float, float]] | None = None
) -> Corpus:
    """Read corpus ``name`` from ``root`` (release folder, or manifest file), keeping ``splits``.

    ``score_ranges`` (a manifest's allowed score range per column, ``"*"`` for all) is for
    manifests only: the challenges' scales are fixed. Raises
    :class:`~clapmos.embed.errors.ClapmosError` with a readable message for any bad input.
    """
    try:
        reader = CORPUS_READERS[name]
    except KeyError:
        raise ClapmosError(f"--corpus {name!r}: unknown corpus; choose one of: {', '.join(sorted(CORPUS_READERS))}") from None
    if score_ranges and name != "manifest":
        raise ClapmosError(f"--score-range applies to --corpus manifest; the scores of {name} have a fixed, checked scale.")
    options = {"score_ranges": score_ranges} if score_ranges else {}
    corpus = reader(Path(root), splits=splits, **options)
    corpus.validate()
    return corpus


__all__ = ["CORPUS_READERS", "Corpus", "read_corpus"]
