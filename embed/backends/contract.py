"""What every embedder's output must be, checked where it matters.

* :func:`checked_vectors` — every batch the runner embeds: an array of shape
  ``(len(batch), dim)`` of finite numbers. A wrong shape or a NaN stops the run with
  one message, before the block is written (written blocks are kept).
* :func:`load_embedder` — loads a model; for a plugin, also runs it on a short
  synthetic batch (:func:`check_contract`), so a plugin that breaks the contract is
  refused before any audio is read. Built-in backends are tested by the suite instead.

>>> import numpy as np
>>> from clapmos.embed.backends.spectral import SpectralEmbedder
>>> checked_vectors(SpectralEmbedder(), np.zeros((2, 128)), 2, "audio").shape
(2, 128)
>>> checked_vectors(SpectralEmbedder(), np.zeros((1, 128)), 2, "audio")
Traceback (most recent call last):
...
clapmos.embed.errors.ClapmosError: spectral: embed_audio returned an array of shape (1, 128) for a batch of 2 windows; expected (2, 128) (audio_dim = 128).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clapmos.embed.backends.base import Embedder
from clapmos.embed.backends.plugins import plugin_source
from clapmos.embed.errors import ClapmosError

PROBE_TEXTS = ["a calm piano melody", "loud drums and a distorted guitar"]
PROBE_SECONDS = (1.0, 0.5, 1.0)  # a short window among full ones, as the last window of a clip is


def who(model: Embedder) -> str:
    """The embedder as users named it: its plugin source, or its registry name."""
    return plugin_source(type(model)) or str(getattr(model, "name", type(model).__name__))


def checked_vectors(model: Embedder, output: Any, n: int, kind: str, finite: bool = True) -> np.ndarray:
    """``output`` of ``embed_audio``/``embed_text`` as float32 ``(n, dim)``; a :class:`ClapmosError` otherwise.

    ``finite=False`` leaves NaN and infinity to the store, which refuses them naming the clips.
    """
    dim = int(model.audio_dim if kind == "audio" else model.text_dim)
    method, unit = ("embed_audio", "windows") if kind == "audio" else ("embed_text", "texts")
    try:
        array = np.asarray(output.detach().float().cpu().numpy() if hasattr(output, "detach") else output, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ClapmosError(f"{who(model)}: {method} returned {type(output).__name__}, not an array of numbers ({error}).") from None
    if array.shape != (n, dim):
        raise ClapmosError(
            f"{who(model)}: {method} returned an array of shape {array.shape} for a batch of {n} {unit}; "
            f"expected ({n}, {dim}) ({kind}_dim = {dim})."
        )
    if finite and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        raise ClapmosError(f"{who(model)}: {method} returned NaN or infinite values for {bad} of {n} {unit}.")
    return array


def check_contract(model: Embedder) -> None:
    """Run a loaded embedder on a short synthetic batch and check what it returns."""
    source = who(model)
    rate = int(model.sample_rate)
    if not isinstance(model.audio_dim, int) or model.audio_dim < 1:
        raise ClapmosError(f"{source}: audio_dim is {model.audio_dim!r} after load(); it must be a positive integer.")
    longest = min(PROBE_SECONDS[0], float(getattr(model, "window_s", 10.0)))
    rng = np.random.default_rng(0)
    windows = [(0.1 * rng.standard_normal(max(1, round(rate * min(s, longest))))).astype(np.float32) for s in PROBE_SECONDS]
    try:
        audio = model.embed_audio(windows)
        text = model.embed_text(list(PROBE_TEXTS)) if model.text_dim else None
    except ClapmosError:
        raise
    except Exception as error:
        raise ClapmosError(
            f"{source}: embedding a synthetic batch ({len(windows)} windows of noise, up to {longest:g} s at {rate} Hz"
            f"{', and 2 texts' if model.text_dim else ''}) right after load() failed: {type(error).__name__}: {error}"
        ) from None
    checked_vectors(model, audio, len(windows), "audio")
    if text is not None:
        checked_vectors(model, text, len(PROBE_TEXTS), "text")


def load_embedder(model: Embedder) -> None:
    """``model.load()``, then, for a plugin, :func:`check_contract`; a plugin's own errors name its file.

    A model this function loaded already is not loaded again (``cli.py`` loads it before
    writing the store, so that a bad checkpoint writes nothing; the runner then reuses it).
    """
    if getattr(model, "_clapmos_loaded", False):
        return
    source = plugin_source(type(model))
    if source is None:
        model.load()
    else:
        try:
            model.load()
        except ClapmosError:
            raise
        except Exception as error:
            raise ClapmosError(f"{source}: load() failed: {type(error).__name__}: {error}") from None
        check_contract(model)
    model._clapmos_loaded = True
