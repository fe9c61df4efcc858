"""``xattn``: the prompt's text embedding as the query of a cross-attention over the clip's frame tokens, then an MLP.

The textual branch of the AudioMOS 2025 winner (its text tokens attended to the audio
frames; clapmos has one text vector per prompt, which becomes the single query): the
head finds the stretch of the clip that matches the prompt, so a clip that follows
its prompt only for a while is judged on that stretch. The MLP reads the pooled audio
beside the projected text. See :mod:`clapmos.heads.nn.frame_regressor` for the input (``Frames``
with text, or a paired ``token | text`` matrix), the targets and losses, and the
attention weights.

>>> import warnings
>>> from clapmos.embed.store.frames import Frames
>>> from clapmos.heads.inputs.ratings import NoListenerRatingsWarning
>>> rng = np.random.default_rng(0)
>>> text = rng.normal(size=(40, 4))
>>> frames = Frames.from_list([rng.normal(size=(5, 4)) for _ in range(40)], text=text)
>>> y = np.array([frames.clip(i) @ text[i] for i in range(40)]).max(axis=1)
>>> with warnings.catch_warnings(action="ignore", category=NoListenerRatingsWarning):
...     model = CrossAttentionRegressor(d_model=16, n_heads=2, hidden_sizes=(16,), max_epochs=5, random_state=0).fit(frames, y)
>>> model.predict(frames[:3]).shape, model.n_features_in_
((3,), 8)
"""

from __future__ import annotations

import numpy as np  # noqa: F401 - the examples below use it

from clapmos.heads.attn_mlp import QUICK
from clapmos.heads.inputs.frame_inputs import ClipVectors
from clapmos.heads.nn.frame_regressor import FrameRegressor
from clapmos.heads.registry import HeadSpec, register_head


class CrossAttentionRegressor(FrameRegressor):
    """Cross-attention from the clip's text vector (the query) to its frame tokens, then an MLP.

    Parameters
    ----------
    audio_dim : int or None, default=None
        For a matrix input: where the token ends and the text begins (``None``: the middle).
    d_model, n_heads, n_layers, hidden_sizes, activation, dropout, loss, pairwise_weight, margin,
    listener_targets, screening_tau, output, n_bins, sigma, score_range, distribution_targets, lr, weight_decay, batch_size,
    max_epochs, validation_fraction, patience, device, random_state
        As in :class:`~clapmos.heads.attn_mlp.AttentionMLPRegressor`.

    Attributes
    ----------
    module_, frame_mean_, frame_scale_, text_mean_, text_scale_, target_mean_, target_scale_,
    history_, best_epoch_, n_features_in_, n_outputs_, frame_dim_, text_dim_, bin_centers_
        As in :class:`~clapmos.heads.attn_mlp.AttentionMLPRegressor`; ``n_features_in_`` counts the text too.
    """

    _text_query = True

    def __init__(
        self,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 0,
        hidden_sizes=(128,),
        activation: str = "gelu",
        dropout: float = 0.1,
        audio_dim: int | None = None,
        loss: str = "mse",
        pairwise_weight: float = 0.5,
        margin: float = 0.1,
        listener_targets: bool = True,
        screening_tau: float | None = None,
        output: str = "score",
        n_bins: int = 20,
        sigma: float = 0.25,
        score_range=None,
        distribution_targets: str = "gaussian",
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        batch_size: int = 32,
        max_epochs: int = 60,
        validation_fraction: float | None = 0.1,
        patience: int = 10,
        device: str = "cpu",
        random_state=None,
    ):
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.dropout = dropout
        self.audio_dim = audio_dim
        self.loss = loss
        self.pairwise_weight = pairwise_weight
        self.margin = margin
        self.listener_targets = listener_targets
        self.screening_tau = screening_tau
        self.output = output
        self.n_bins = n_bins
        self.sigma = sigma
        self.score_range = score_range
        self.distribution_targets = distribution_targets
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state


register_head(
    HeadSpec(
        name="xattn",
        summary="cross-attention: the prompt's text vector queries the frame tokens, then an MLP",
        build=lambda random_state=None, **_: CrossAttentionRegressor(random_state=random_state),
        scaled=False,
        reads_blocks=False,
        listener_ratings=True,
        types=(CrossAttentionRegressor, ClipVectors),
        quick=QUICK,
        inputs="frames",
        needs_text=True,
    )
)
