"""What the frame heads (``attn_mlp``, ``xattn``) share: their input, targets, training and attention weights.

**Input.** A frame head reads a :class:`~clapmos.embed.store.frames.Frames` container (each clip a
sequence of tokens; ``FeatureStore.frames`` gives one, with the clips' text vectors).
scikit-learn's conventions are 2-D, so a frame head also takes a plain matrix: each
row is a clip of **one** token (and, for a head that reads text, the row is a paired
``audio | text`` matrix split at ``audio_dim``, the middle by default). That keeps the
whole scikit-learn contract checkable on ordinary arrays (``parametrize_with_checks``),
while ``Frames`` supports ``len``, ``shape`` and indexing by rows, so folds,
``cross_validate``, ``GridSearchCV`` and :class:`~clapmos.heads.runs.ensemble.CVEnsemble` slice it
like a matrix. ``n_features_in_`` is the width of one token, plus the text's when the
head reads text.

**Targets and losses.** As the other torch heads: ``loss`` ``mse`` or ``l1`` plus
``pairwise_weight`` times the pairwise hinge; with ``listener_targets`` (the default)
the SPO targets, i.e. per-listener standardised ratings (``listener_scores``,
``listener_ids``, routed as fit metadata) mapped back with ``mu_g + sigma_g * z``;
without, ``y`` standardised by its mean and standard deviation. With
``output="distribution"`` the network predicts a distribution over ``n_bins`` score
bins instead, trained with KL on ``y`` as the ``dist`` head is (:mod:`clapmos.heads.nn.frame_outputs`).

**Training** runs the shared loop (:func:`clapmos.heads.nn.training.train_module`: AdamW, early
stopping on validation SRCC, one seed) on padded, masked mini-batches of clips of
similar length (:class:`clapmos.heads.nn.sequences.SequenceInputs`); predictions run in float64,
so a clip's prediction does not depend on the other clips it is batched with.

**Attention.** ``predict(X, return_attention=True)`` also returns, per clip, the
pooling's attention weight of every token (summing to 1); ``attention(X)`` only those.
With ``return_std`` too (distribution output) it returns ``(mean, std, attention)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from numbers import Integral, Real

from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_y, check_consistent_length, check_is_fitted, validate_data

from clapmos.embed.store.frames import Frames
from clapmos.heads.nn.training import TRAINING_CONSTRAINTS, TrainingOptions, check_device_name, seed_from, train_module
from clapmos.heads.nn.attention_net import FrameAttentionNet
from clapmos.heads.nn.distribution import bin_probabilities, distribution_mean, distribution_std
from clapmos.heads.inputs.features import split_halves
from clapmos.heads.inputs.ratings import NoListenerRatingsWarning
from clapmos.heads.nn.frame_outputs import OUTPUT_CONSTRAINTS, DistributionTraining, check_output_parameters
from clapmos.heads.nn.losses import RegressionLoss
from clapmos.heads.mlp import ACTIVATIONS, check_hidden_sizes, layer_dropouts
from clapmos.heads.nn.sequences import SequenceInputs, frame_statistics
from clapmos.heads.spo import SPO_CONSTRAINTS, _ScoreScaleMixin

_FINITE_BLOCK = 16384  # tokens checked for NaN/inf at a time (a bounded temporary)


class FrameRegressor(_ScoreScaleMixin, RegressorMixin, BaseEstimator):
    """Base class of the frame heads; subclasses set ``_text_query`` and declare their parameters."""

    _text_query = False

    _parameter_constraints: dict = {
        **{name: TRAINING_CONSTRAINTS[name] for name in ("lr", "weight_decay", "batch_size", "max_epochs", "validation_fraction", "patience", "device", "random_state")},
        **SPO_CONSTRAINTS,
        "d_model": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 0, None, closed="left")],
        "hidden_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "audio_dim": [Interval(Integral, 1, None, closed="left"), None],
        "loss": [StrOptions({"mse", "l1"})],
        "listener_targets": ["boolean"],
        **OUTPUT_CONSTRAINTS,
    }

    def _check_parameters(self) -> None:
        """Raise ``ValueError``/``TypeError`` for a bad parameter (called by ``fit``, and up front by ``clapmos.heads.runs.validation``)."""
        self._validate_params()
        owner = type(self).__name__
        layer_dropouts(check_hidden_sizes(self.hidden_sizes, owner), self.dropout)
        if self.d_model % self.n_heads:
            raise ValueError(f"The 'n_heads' parameter of {owner} must divide d_model={self.d_model}. Got {self.n_heads!r} instead.")
        check_device_name(self.device, owner)
        check_output_parameters(self)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, listener_scores=None, listener_ids=None):
        """Train on clips ``X`` (:class:`~clapmos.embed.store.frames.Frames`, or a matrix of one-token clips) and scores ``y``.

        Parameters
        ----------
        X : Frames or array of shape (n_samples, n_features)
        y : array of shape (n_samples,) or (n_samples, n_outputs)
        listener_scores, listener_ids : arrays, optional
            Per-listener ratings (as :class:`~clapmos.heads.spo.SpoMLPRegressor` takes them), for ``listener_targets``
            (not read with ``output="distribution"``).
        """
        self._check_parameters()
        frames = self._frames(X, reset=True)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = _check_y(y, multi_output=True, y_numeric=True, estimator=self)
        check_consistent_length(frames, y)
        self._y_ndim = y.ndim
        Y = y.reshape(len(y), -1).astype(np.float64)
        decode = truth = split = seed = None
        if self.output == "distribution":
            training = DistributionTraining.of(Y, self.n_bins, self.sigma, self.score_range, self._histogram_ratings(Y, listener_scores))
            self.bin_centers_, Z, decode, truth = training.centers, training.targets, training.decode, Y
            loss = training.loss
        else:
            Z, split, seed = self._score_targets(Y, listener_scores, listener_ids)
            loss = RegressionLoss(self.loss, pairwise_weight=self.pairwise_weight, margin=self.margin)
        self.n_outputs_ = Y.shape[1]
        self.frame_mean_, self.frame_scale_ = frame_statistics(frames)
        if self.text_dim_:
            text = np.asarray(frames.text, dtype=np.float64)
            scale = text.std(axis=0)
            self.text_mean_, self.text_scale_ = text.mean(axis=0), np.where(scale > 1e-12, scale, 1.0)
        options, seed = self._training_options(), seed_from(self.random_state) if seed is None else seed
        result = train_module(self._build_network, self._inputs(frames), Z, loss, options, seed, decode=decode, truth=truth, split=split)
        self.module_ = result.module.double()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        return self

    def _histogram_ratings(self, Y: np.ndarray, listener_scores) -> np.ndarray | None:
        """The ratings (n, k, n_outputs) to train histograms on, or ``None`` for Gaussians around ``y``."""
        if getattr(self, "distribution_targets", "gaussian") != "histogram":
            return None
        if listener_scores is None:
            warnings.warn("distribution_targets='histogram' without listener_scores: training on Gaussians around y",
                          NoListenerRatingsWarning, stacklevel=3)
            return None
        scores = np.asarray(listener_scores, dtype=float)
        if len(scores) != len(Y) or scores.ndim not in (2, 3) or (scores.ndim == 3 and scores.shape[2] != Y.shape[1]) or (scores.ndim == 2 and Y.shape[1] != 1):
            raise ValueError(f"listener_scores of shape {scores.shape} must be (n_samples, k[, n_outputs]) for y of shape {Y.shape}")
        return scores.reshape(len(Y), -1, Y.shape[1])

    def predict_spread(self, X) -> np.ndarray:
        """The predicted distribution's standard deviation (``output="distribution"``): with histogram targets, the listeners' disagreement."""
        return self.predict(X, return_std=True)[1]

    def _score_targets(self, Y: np.ndarray, listener_scores, listener_ids):
        """The network's targets for ``output="score"``, with the (training, validation) rows and seed SPO fixes (else ``None``):
        SPO z targets (every clip kept), or ``Y`` standardised; sets ``target_mean_``, ``target_scale_``."""
        if self.listener_targets:
            Z, _, split, seed = self._spo_targets(Y, listener_scores, listener_ids)
            self.target_mean_, self.target_scale_ = self.mu_g_.copy(), self.sigma_g_.copy()
            return Z, split, seed
        scale = Y.std(axis=0)
        self.target_mean_, self.target_scale_ = Y.mean(axis=0), np.where(scale > 0, scale, 1.0)
        return (Y - self.target_mean_) / self.target_scale_, None, None

    # ------------------------------------------------------------------ predicting
    def predict(self, X, *, return_std: bool = False, return_attention: bool = False):
        """Scores on the scale of ``y`` (the predicted distribution's mean with ``output="distribution"``).

        Returns ``y_pred``, then ``std`` with ``return_std``, then ``attention`` with
        ``return_attention``: ``(y_pred, std, attention)`` with both.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        std : ndarray, shaped like ``y_pred``
            Only with ``return_std`` (``output="distribution"`` only): the predicted distribution's standard deviation.
        attention : list of ndarray, one per clip, of shape (length_i,)
            Only with ``return_attention``: the pooling's weight of each token (mean over heads).
        """
        if return_std and self.output != "distribution":
            raise ValueError(f"return_std=True needs output='distribution'; this {type(self).__name__} has output={self.output!r}.")
        out, weights = self._network_outputs(X, return_attention)
        if self.output == "distribution":
            probabilities = bin_probabilities(torch.from_numpy(out), self.n_bins)
            results = [distribution_mean(probabilities, self.bin_centers_), distribution_std(probabilities, self.bin_centers_)]
            results = [self._shaped(r) for r in results[: 1 + return_std]]
        else:
            results = [self._shaped(out * self.target_scale_ + self.target_mean_)]
        results += [weights] if return_attention else []
        return tuple(results) if len(results) > 1 else results[0]

    def predict_distribution(self, X) -> np.ndarray:
        """Probabilities of the bins ``bin_centers_`` (``output="distribution"``): ``(n, n_bins)`` for a 1-D ``y``, else ``(n, n_outputs, n_bins)``."""
        if self.output != "distribution":
            raise ValueError(f"predict_distribution needs output='distribution'; this {type(self).__name__} has output={self.output!r}.")
        probabilities = bin_probabilities(torch.from_numpy(self._network_outputs(X, False)[0]), self.n_bins)
        return probabilities[:, 0] if self._y_ndim == 1 else probabilities

    def attention(self, X) -> list[np.ndarray]:
        """Per clip, the attention weight of each of its tokens (``predict(X, return_attention=True)[1]``)."""
        return self.predict(X, return_attention=True)[1]

    def _shaped(self, values: np.ndarray) -> np.ndarray:
        return values.ravel() if self._y_ndim == 1 else values

    def _network_outputs(self, X, return_attention: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        """The network's outputs (n, width) in float64 and, with ``return_attention``, each clip's attention weights."""
        check_is_fitted(self)
        frames = self._frames(X, reset=False)
        inputs = self._inputs(frames, dtype=torch.float64)
        out = np.empty((len(frames), self._network_width()))
        weights: list[np.ndarray] = [np.empty(0)] * len(frames)
        with torch.no_grad():
            for batch in inputs.eval_batches(torch.arange(len(frames))):
                arguments = inputs.take(batch)
                if return_attention:
                    result, attention = self.module_.attend(*arguments)
                    for k, i in enumerate(batch.tolist()):
                        weights[i] = attention[k, : frames.lengths[i]].numpy().copy()
                else:
                    result = self.module_(*arguments)
                out[batch.numpy()] = result.numpy()
        return out, weights

    # ------------------------------------------------------------------ inputs
    def _uses_text(self) -> bool:
        return self._text_query or bool(getattr(self, "use_text", False))

    def _frames(self, X, reset: bool) -> Frames:
        """``X`` as :class:`Frames` (a matrix: one token per clip, its text half split off when text is used)."""
        uses_text = self._uses_text()
        if not isinstance(X, Frames):
            X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
            if uses_text:
                audio, text = split_halves(X, self.audio_dim)
                frames = Frames.from_matrix(audio, text)
            else:
                frames = Frames.from_matrix(X)
        else:
            frames = X
            if uses_text and frames.text is None:
                raise ValueError(f"{type(self).__name__} reads the clips' text vectors: give Frames with text (FeatureStore.frames(..., text=True))")
            width = frames.frame_dim + (frames.text_dim if uses_text else 0)
            if reset:
                self.n_features_in_ = width
            elif width != self.n_features_in_:
                raise ValueError(
                    f"X has {width} features (tokens of {frames.frame_dim}{f' + text of {frames.text_dim}' if uses_text else ''}), "
                    f"but {type(self).__name__} is expecting {self.n_features_in_} features as input."
                )
            _check_frame_values(frames)
        if reset:
            self.frame_dim_ = frames.frame_dim
            self.text_dim_ = frames.text_dim if uses_text else 0
        elif frames.frame_dim != self.frame_dim_:
            raise ValueError(f"X has tokens of {frames.frame_dim} features, but {type(self).__name__} was fitted on {self.frame_dim_}.")
        if not uses_text and frames.text is not None:
            frames = Frames(frames.values, frames.offsets, frames.times, None, frames.vectors, frames.ids)
        return frames

    def _inputs(self, frames: Frames, dtype: torch.dtype = torch.float32) -> SequenceInputs:
        text = (self.text_mean_, self.text_scale_) if self.text_dim_ else (None, None)
        return SequenceInputs(frames, *text, dtype=dtype)

    # ------------------------------------------------------------------ network
    def _network_width(self) -> int:
        """Outputs of the network: a score per output, or ``n_bins`` logits per output."""
        return self.n_outputs_ * (self.n_bins if self.output == "distribution" else 1)

    def _build_network(self) -> FrameAttentionNet:
        return FrameAttentionNet(
            frame_dim=self.frame_dim_,
            n_outputs=self._network_width(),
            d_model=self.d_model,
            n_heads=self.n_heads,
            n_layers=self.n_layers,
            hidden_sizes=self.hidden_sizes,
            activation=self.activation,
            dropout=self.dropout,
            text_dim=self.text_dim_,
            text_query=self._text_query,
        ).standardize_with(self.frame_mean_, self.frame_scale_)

    def _new_module(self) -> FrameAttentionNet:
        """A fresh network shaped like ``module_`` (float64, eval mode), to load saved weights into."""
        return self._build_network().double().eval()

    def _training_options(self) -> TrainingOptions:
        return TrainingOptions.of(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _check_frame_values(frames: Frames) -> None:
    """Refuse clips without tokens and tokens with NaN or infinity, naming the clips."""
    where = lambda rows: ", ".join(str(frames.ids[i] if frames.ids is not None else f"#{i}") for i in rows[:5])  # noqa: E731
    empty = frames.empty_clips()
    if len(empty):
        raise ValueError(f"{len(empty)} clip(s) have no frame tokens: {where(empty)}")
    for start in range(0, len(frames.values), _FINITE_BLOCK):
        block = np.asarray(frames.values[start : start + _FINITE_BLOCK])
        if not np.isfinite(block).all():
            tokens = start + np.flatnonzero(~np.isfinite(block).all(axis=1))
            clips = np.unique(np.searchsorted(frames.offsets, tokens, side="right") - 1)
            raise ValueError(f"Input contains NaN or infinity in the frame tokens of {len(clips)} clip(s): {where(clips)}")
    if frames.text is not None and not np.isfinite(frames.text).all():
        raise ValueError("Input contains NaN or infinity in the clips' text vectors")
