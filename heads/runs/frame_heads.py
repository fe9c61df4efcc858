"""Runs with frame heads: which heads read frame tokens, what a store must hold for them, and
what makes stored tokens interchangeable. No scikit-learn import: scoring with a run asks these.

>>> reads_frames(["ridge", "attn_mlp"]), reads_frames(["ridge"])
(True, False)
"""

from __future__ import annotations

import numpy as np

from clapmos.embed.store.frames import Frames


def reads_frames(heads: list[str]) -> bool:
    """Whether any of ``heads`` reads frame tokens."""
    from clapmos.heads.registry import head_spec

    return any(head_spec(h).inputs == "frames" for h in heads)


def check_frame_heads(store, heads: list[str], embedders: list[str], layout) -> None:
    """Refuse frame heads the store cannot serve: several embedders, no frames, or no text for ``xattn``."""
    from clapmos.embed.errors import ClapmosError
    from clapmos.heads.registry import head_spec

    frame_heads = [h for h in heads if head_spec(h).inputs == "frames"]
    if not frame_heads:
        return
    if len(embedders) != 1:
        raise ClapmosError(
            f"--head {','.join(frame_heads)} reads one embedder's frame tokens; got --embedder {','.join(embedders)}. "
            "Fit frame heads with one embedder."
        )
    embedder = embedders[0]
    if not store.has_frames(embedder):
        raise ClapmosError(f"--head {frame_heads[0]} reads frame tokens, but {store.path} has none of {embedder!r}. {store.frames_hint(embedder)}")
    for head in frame_heads:
        if head_spec(head).needs_text and not layout[0][2]:
            raise ClapmosError(f"--head {head} queries the frames with the prompt's text vector, but {embedder} has no text embeddings (audio-only).")


def with_vectors(frames: Frames, vectors: np.ndarray | None) -> Frames:
    """``frames`` carrying the clips' clip-level matrix too (for clip-vector heads beside frame heads)."""
    from dataclasses import replace

    return replace(frames, vectors=vectors)


def frame_identity(attrs: dict) -> dict:
    """The attributes that make stored frame tokens interchangeable for a model (width, rate, what a token is)."""
    from clapmos.embed.store.frame_store import FRAME_IDENTITY_ATTRS

    return {k: attrs.get(k) for k in FRAME_IDENTITY_ATTRS}
