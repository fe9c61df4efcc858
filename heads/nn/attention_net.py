"""The torch network of the frame heads: frame tokens -> [Transformer encoder] -> attention pooling -> MLP.

Tokens are standardised (per dimension, with statistics of the training tokens held as
buffers and folded into the first projection, so no batch is ever rescaled) and
projected to ``d_model`` dimensions, optionally contextualised by a small
Transformer encoder (pre-norm, masked), then pooled by one multi-head attention whose
query is either a learned vector (``attn_mlp``: *where should I listen?*) or the
projected text embedding of the clip's prompt (``xattn``: *where does the audio match
this prompt?*). The pooled vector goes through an MLP; when the text is used, beside
the projected text and their element-wise product (so the MLP sees how well the
stretch it listened to matches the prompt, as the ``product`` feature block does for
clip vectors). Padding tokens are masked out of the encoder and the pooling, so
a clip's output does not depend on the other clips of its batch. The network has no
positional encoding: it decides where to listen by what a token holds, not by when.

>>> import torch
>>> net = FrameAttentionNet(frame_dim=8, n_outputs=1, d_model=16, n_heads=2, n_layers=1, hidden_sizes=(8,)).eval()
>>> frames, padding = torch.randn(3, 5, 8), torch.zeros(3, 5, dtype=torch.bool)
>>> out, weights = net.attend(frames, padding)
>>> tuple(out.shape), tuple(weights.shape), bool(torch.allclose(weights.sum(1), torch.ones(3)))
((3, 1), (3, 5), True)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from clapmos.heads.mlp import build_mlp


class FrameAttentionNet(nn.Module):
    """Attention pooling over frame tokens, with a learned or a text query, then an MLP.

    Parameters
    ----------
    frame_dim, n_outputs : int
    d_model : int
        Width of the projected tokens, the query and the pooled vector.
    n_heads : int
        Attention heads (of the pooling and of every encoder layer); must divide ``d_model``.
    n_layers : int
        Transformer encoder layers before the pooling (0: none).
    hidden_sizes, activation, dropout
        The MLP after the pooling (as :func:`clapmos.heads.mlp.build_mlp`); ``dropout`` also
        applies inside the attention and the encoder.
    text_dim : int
        Width of the clip's text vector (0: no text).
    text_query : bool
        Use the projected text as the pooling query (``xattn``) instead of a learned one;
        either way a given text is projected and put, with its element-wise product with
        the pooled vector, beside the pooled vector.
    """

    def __init__(
        self,
        frame_dim: int,
        n_outputs: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 0,
        hidden_sizes=(128,),
        activation: str = "gelu",
        dropout: float = 0.1,
        text_dim: int = 0,
        text_query: bool = False,
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}")
        if text_query and not text_dim:
            raise ValueError("a text query needs text_dim > 0")
        self.project = nn.Linear(frame_dim, d_model)
        self.register_buffer("frame_mean", torch.zeros(frame_dim))
        self.register_buffer("frame_scale", torch.ones(frame_dim))
        self.encoder = None
        if n_layers:
            layer = nn.TransformerEncoderLayer(
                d_model, n_heads, dim_feedforward=2 * d_model, dropout=dropout, activation="gelu", batch_first=True, norm_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.text_project = nn.Linear(text_dim, d_model) if text_dim else None
        self.text_query = text_query
        self.query = None if text_query else nn.Parameter(0.02 * torch.randn(1, 1, d_model))
        self.attention = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.mlp = build_mlp(d_model * (3 if text_dim else 1), hidden_sizes, n_outputs, activation, dropout)

    def standardize_with(self, mean: np.ndarray, scale: np.ndarray) -> "FrameAttentionNet":
        """Tokens ``x`` are read as ``(x - mean) / scale``."""
        self.frame_mean.copy_(torch.as_tensor(mean, dtype=self.frame_mean.dtype))
        self.frame_scale.copy_(torch.as_tensor(scale, dtype=self.frame_scale.dtype))
        return self

    def forward(self, frames: torch.Tensor, padding: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs ``(batch, n_outputs)`` for ``frames (batch, length, frame_dim)``; ``padding`` is True on padding."""
        return self._run(frames, padding, text, need_weights=False)[0]

    def attend(self, frames: torch.Tensor, padding: torch.Tensor, text: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs and the pooling's attention weights ``(batch, length)`` (mean over heads, 0 on padding)."""
        out, weights = self._run(frames, padding, text, need_weights=True)
        return out, weights[:, 0, :]

    def _run(self, frames, padding, text, need_weights):
        weight = self.project.weight / self.frame_scale  # project((x - mean) / scale), folded into one linear map
        tokens = F.linear(frames, weight, self.project.bias - weight @ self.frame_mean)
        if self.encoder is not None:
            tokens = self.encoder(tokens, src_key_padding_mask=padding)
        projected_text = self.text_project(text) if self.text_project is not None else None
        query = projected_text.unsqueeze(1) if self.text_query else self.query.expand(len(tokens), 1, -1)
        pooled, weights = self.attention(
            query, tokens, tokens, key_padding_mask=padding, need_weights=need_weights, average_attn_weights=True
        )
        parts = [pooled[:, 0, :]]
        if projected_text is not None:
            parts += [projected_text, parts[0] * projected_text]
        return self.mlp(torch.cat(parts, dim=-1)), weights
