"""``attn_mlp``: attentive pooling over a clip's frame tokens (learned query, optional Transformer encoder), then an MLP.

The overall-quality branch of the AudioMOS 2025 winner, on clapmos's cached frames:
the encoder stays frozen, and the head learns *where to listen*, so a short defect
(a glitch, two seconds of noise) is not diluted by averaging over the whole clip.
See :mod:`clapmos.heads.nn.frame_regressor` for the input (``Frames``, or a matrix of one-token
clips), the targets and losses, and the attention weights.

>>> import warnings
>>> from clapmos.embed.store.frames import Frames
>>> from clapmos.heads.inputs.ratings import NoListenerRatingsWarning
>>> rng = np.random.default_rng(0)
>>> frames = Frames.from_list([rng.normal(size=(int(n), 4)) for n in rng.integers(3, 9, size=60)])
>>> y = np.array([frames.clip(i)[:, 0].max() for i in range(len(frames))])
>>> with warnings.catch_warnings(action="ignore", category=NoListenerRatingsWarning):
...     model = AttentionMLPRegressor(d_model=16, n_heads=2, hidden_sizes=(16,), max_epochs=5, random_state=0).fit(frames, y)
>>> prediction, attention = model.predict(frames[:2], return_attention=True)
>>> prediction.shape, [round(float(w.sum()), 6) for w in attention]
((2,), [1.0, 1.0])
"""

from __future__ import annotations

import numpy as np  # noqa: F401 - the examples below use it

from clapmos.heads.inputs.frame_inputs import ClipVectors
from clapmos.heads.nn.frame_regressor import FrameRegressor
from clapmos.heads.registry import HeadSpec, register_head


class AttentionMLPRegressor(FrameRegressor):
    """Attentive pooling with a learned query over frame tokens, optionally after a small Transformer encoder, then an MLP.

    Parameters
    ----------
    d_model : int, default=64
        Width the tokens are projected to (the pooling's and the encoder's width).
    n_heads : int, default=4
        Attention heads; must divide ``d_model``.
    n_layers : int, default=0
        Transformer encoder layers before the pooling (pre-norm, masked; 0 for none).
    hidden_sizes : tuple of int, default=(128,)
        The MLP after the pooling.
    activation : {"relu", "gelu", "tanh", "identity"}, default="gelu"
    dropout : float, default=0.1
        In the attention, the encoder and the MLP.
    use_text : bool, default=False
        Put the clip's projected text vector beside the pooled audio (for alignment
        targets; ``fit`` on a store turns it on where the default feature blocks use text).
    audio_dim : int or None, default=None
        For a matrix input with ``use_text``: where the token ends and the text begins
        (``None``: the middle).
    loss : {"mse", "l1"}, default="mse"
    pairwise_weight, margin : float, default=0.5, 0.1
        Weight and margin of the pairwise hinge term (0 turns it off).
    listener_targets : bool, default=True
        Train on SPO targets from the listener ratings (else on ``y`` standardised).
        Ignored with ``output="distribution"``, which trains on ``y``.
    screening_tau : float or None, default=None
        SPO rating screening (with ``listener_targets``; refused with ``output="distribution"``).
    output : {"score", "distribution"}, default="score"
        What the network predicts: a score per output, or (as the ``dist`` head) a
        distribution over ``n_bins`` score bins, trained with KL divergence against
        Gaussian-smoothed targets of ``y``; ``loss``, ``pairwise_weight`` and ``margin``
        then do not apply (see :mod:`clapmos.heads.nn.frame_outputs`).
    n_bins, sigma, score_range : int, float, (low, high) or None, default=20, 0.25, None
        With ``output="distribution"``: as in :class:`~clapmos.heads.dist.DistributionRegressor`
        (``score_range=None`` reads the bins' range from the training targets, per output).
    distribution_targets : {"gaussian", "histogram"}, default="gaussian"
        With ``output="distribution"``: as in :class:`~clapmos.heads.dist.DistributionRegressor`
        (histograms of the clip's ``listener_scores``; ``predict_spread`` is then the listeners' disagreement).
    lr, weight_decay : float, default=1e-3, 1e-2
    batch_size : int, default=32
        Clips per mini-batch (of similar length; padded to the batch's longest clip).
    max_epochs, validation_fraction, patience
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor` (defaults 60, 0.1, 10).
    device : str, default="cpu"
        ``"cpu"``, ``"cuda[:N]"`` or ``"auto"`` for training; prediction runs on the CPU.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    module_ : FrameAttentionNet
        The network of the best epoch, on the CPU, in float64.
    frame_mean_, frame_scale_ : ndarray of shape (frame_dim_,)
        Token standardisation, learnt on the training tokens.
    target_mean_, target_scale_ : ndarray of shape (n_outputs_,)
        Predictions are ``target_mean_ + target_scale_ * output`` (``mu_g``, ``sigma_g`` with listener targets).
    history_, best_epoch_, n_features_in_, n_outputs_, frame_dim_, text_dim_
    mu_g_, sigma_g_, listener_stats_, screening_counts_
        With ``listener_targets``, as in :class:`~clapmos.heads.spo.SpoMLPRegressor`.
    bin_centers_ : ndarray of shape (n_outputs_, n_bins)
        With ``output="distribution"`` (instead of ``target_mean_``, ``target_scale_``):
        ``predict`` gives the mean of the distribution over these bins, ``predict(X,
        return_std=True)`` also its standard deviation, ``predict_distribution`` the
        probabilities; ``predict(X, return_std=True, return_attention=True)`` returns
        ``(mean, std, attention)``.
    """

    _parameter_constraints: dict = {**FrameRegressor._parameter_constraints, "use_text": ["boolean"]}

    def __init__(
        self,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 0,
        hidden_sizes=(128,),
        activation: str = "gelu",
        dropout: float = 0.1,
        use_text: bool = False,
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
        self.use_text = use_text
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


#: Settings that make a fit take well under a second (tests, docs); shared with ``xattn``.
QUICK = {"d_model": 8, "n_heads": 2, "hidden_sizes": (16,), "max_epochs": 12, "patience": 4, "lr": 2e-2, "batch_size": 64}

register_head(
    HeadSpec(
        name="attn_mlp",
        summary="attentive pooling over frame tokens (learned query, optional Transformer encoder), then an MLP",
        build=lambda random_state=None, **_: AttentionMLPRegressor(random_state=random_state),
        scaled=False,
        reads_blocks=False,
        listener_ratings=True,
        types=(AttentionMLPRegressor, ClipVectors),
        quick=QUICK,
        inputs="frames",
    )
)
