"""Stand-in embedders that fail on purpose, for the Dask tests.

They live in a module of their own, imported by its name (``tests.dask_embedders``), because
Dask workers unpickle them by module name, and pytest names test modules by their folders.
"""

from __future__ import annotations

import os

from clapmos.embed.backends.spectral import SpectralEmbedder
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store.schema import FEATURE_CHUNK

BATCHES_PER_BLOCK = FEATURE_CHUNK // 8  # one window per clip, 8 windows per batch


class DiesOnce(SpectralEmbedder):
    """``spectral``, but the first worker to reach its second block exits on the spot (once in all)."""

    def __init__(self, marker: str, **options) -> None:
        super().__init__(**options)
        self.marker, self.calls = marker, 0

    def embed_audio(self, windows):
        self.calls += 1
        if self.calls == BATCHES_PER_BLOCK + 1 and _first_to_create(self.marker):
            os._exit(1)
        return super().embed_audio(windows)


class StopsAfter(SpectralEmbedder):
    """``spectral``, but it raises a ClapmosError after ``batches`` batches (per process), like an interrupted run."""

    def __init__(self, batches: int, **options) -> None:
        super().__init__(**options)
        self.batches, self.calls = batches, 0

    def embed_audio(self, windows):
        self.calls += 1
        if self.calls > self.batches:
            raise ClapmosError("stopped on purpose")
        return super().embed_audio(windows)

    def embed_frames(self, windows):
        self.calls += 1
        if self.calls > self.batches:
            raise ClapmosError("stopped on purpose")
        return super().embed_frames(windows)


class BadCheckpoint(SpectralEmbedder):
    def load(self) -> None:
        raise ClapmosError("model.pt: not a checkpoint of this model")


def _first_to_create(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL))
        return True
    except FileExistsError:
        return False


class Counting(SpectralEmbedder):
    """``spectral``, recording the sha256 of every window it embeds in ``log`` (one line each, from any process)."""

    def __init__(self, log: str, **options) -> None:
        super().__init__(**options)
        self.log = log

    def embed_audio(self, windows):
        import hashlib

        lines = "".join(hashlib.sha256(w.tobytes()).hexdigest() + "\n" for w in windows)
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, lines.encode())  # one write per batch, appended whole
        finally:
            os.close(fd)
        return super().embed_audio(windows)
