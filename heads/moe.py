"""``moe``: a mixture of encoder experts with a per-clip gate (the XACLE 2026 winner MoEScore, METHODS.md §8).

One expert per embedder reads only that embedder's feature blocks; a gating network reads
all of them (concatenated) and gives every clip a softmax weight per expert; the
prediction is the gate-weighted sum of the experts' predictions. Experts and gate are
trained jointly on the mixture's loss (plus, with ``expert_loss_weight``, each expert's
own loss, which keeps an expert the gate ignores early from being starved).

Which columns belong to which expert is read from the column names of the feature
blocks (``clap.audio_0``, ``m2d.cosine``: the part before the dot), which the ``moe``
head's pipeline keeps by passing pandas frames between its steps
(``HeadSpec.named_columns``); a plain matrix, or one embedder, is one expert.
``predict_gates(X)`` gives the weights; a run writes them beside its predictions as
``<target>_gate_<embedder>`` (mean over the fold models).
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from clapmos.heads.inputs.targets import target_affine
from clapmos.heads.mlp import TorchMLPRegressor, build_mlp, check_hidden_sizes
from clapmos.heads.nn.losses import RegressionLoss
from clapmos.heads.registry import HeadSpec, register_head


def expert_columns(feature_names) -> tuple[list[str], list[np.ndarray]]:
    """Expert names and their column indices, from column names ``embedder.block_i`` (no names: one expert).

    >>> expert_columns(["a.audio_0", "a.cosine", "b.audio_0"])
    (['a', 'b'], [array([0, 1]), array([2])])
    >>> expert_columns(None)
    (['all'], [slice(None, None, None)])
    """
    if feature_names is None:
        return ["all"], [slice(None)]
    prefixes = [name.partition(".")[0] if "." in name else "" for name in map(str, feature_names)]
    names = list(dict.fromkeys(prefixes))
    if names == [""]:
        return ["all"], [slice(None)]
    return [name or "other" for name in names], [np.flatnonzero(np.array(prefixes) == name) for name in names]


class MixtureOfExperts(nn.Module):
    """``sum_k softmax(gate(x))_k * expert_k(x[:, columns_k])``; ``forward`` returns (n, n_out)."""

    def __init__(self, columns, n_features: int, hidden_sizes, gate_hidden_sizes, n_out: int, activation: str, dropout):
        super().__init__()
        self.columns = [torch.arange(n_features)[c] for c in columns]
        self.experts = nn.ModuleList(
            build_mlp(len(c), hidden_sizes, n_out, activation, dropout) for c in self.columns
        )
        self.gate = build_mlp(n_features, gate_hidden_sizes, len(self.columns), activation)

    def parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Expert outputs (n, n_experts, n_out) and gate weights (n, n_experts)."""
        outputs = torch.stack([expert(x[:, c.to(x.device)]) for expert, c in zip(self.experts, self.columns)], dim=1)
        return outputs, torch.softmax(self.gate(x), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, gates = self.parts(x)
        mixed = (outputs * gates.unsqueeze(2)).sum(dim=1)
        # the experts' own outputs ride along for the loss (see MixtureLoss); predict reads column 0..n_out
        return torch.cat([mixed, outputs.flatten(1)], dim=1)


class MixtureLoss:
    """The pointwise loss of the mixture, plus ``expert_weight`` × the mean loss of the experts alone."""

    def __init__(self, base: RegressionLoss, n_out: int, expert_weight: float):
        self.base, self.n_out, self.expert_weight = base, n_out, expert_weight

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = self.base(output[:, : self.n_out], target)
        if self.expert_weight:
            experts = output[:, self.n_out :].reshape(len(output), -1, self.n_out)
            loss = loss + self.expert_weight * torch.stack([self.base(experts[:, k], target) for k in range(experts.shape[1])]).mean()
        return loss


class MixtureOfExpertsRegressor(TorchMLPRegressor):
    """One MLP expert per embedder, a softmax gate per clip, trained jointly.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(64,)
        Hidden layers of every expert (``()``: linear experts).
    gate_hidden_sizes : tuple of int, default=()
        Hidden layers of the gate on all the columns (``()``: a linear gate, softmax over experts).
    expert_loss_weight : float, default=0.1
        Weight of the experts' own losses beside the mixture's.
    activation, dropout, loss, tau, pairwise_weight, margin, target_scaling, optimizer, lr, weight_decay, momentum, batch_size, drop_last, max_epochs, validation_fraction, patience, monitor, lr_schedule, device, random_state
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor`.

    Attributes
    ----------
    experts_ : list of str
        Expert names (the embedders), in gate-column order.
    expert_columns_ : list of ndarray
        The input columns of each expert.
    module_, history_, best_epoch_, n_features_in_, n_outputs_, target_mean_, target_scale_
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor`.

    Examples
    --------
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a.audio_0", "a.audio_1", "b.audio_0", "b.audio_1"])
    >>> y = X["a.audio_0"] + X["b.audio_1"]
    >>> model = MixtureOfExpertsRegressor(hidden_sizes=(8,), lr=1e-2, random_state=0).fit(X, y)
    >>> model.experts_, model.predict_gates(X[:3]).shape
    (['a', 'b'], (3, 2))
    """

    _parameter_constraints: dict = {
        **TorchMLPRegressor._parameter_constraints,
        "gate_hidden_sizes": ["array-like"],
        "expert_loss_weight": [Interval(Real, 0, None, closed="left")],
    }
    for _name in ("class_balance", "beta", "class_edges"):
        _parameter_constraints.pop(_name)
    del _name

    def __init__(
        self,
        hidden_sizes=(64,),
        gate_hidden_sizes=(),
        expert_loss_weight: float = 0.1,
        activation: str = "relu",
        dropout=0.1,
        loss: str = "mse",
        tau: float = 0.25,
        pairwise_weight: float = 0.0,
        margin: float = 0.1,
        target_scaling="standardize",
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        momentum: float = 0.9,
        batch_size: int = 64,
        drop_last: bool = False,
        max_epochs: int = 100,
        validation_fraction: float | None = 0.1,
        patience: int = 15,
        monitor: str = "srcc",
        lr_schedule: str = "constant",
        device: str = "auto",
        random_state=None,
    ):
        self.hidden_sizes = hidden_sizes
        self.gate_hidden_sizes = gate_hidden_sizes
        self.expert_loss_weight = expert_loss_weight
        self.activation = activation
        self.dropout = dropout
        self.loss = loss
        self.tau = tau
        self.pairwise_weight = pairwise_weight
        self.margin = margin
        self.target_scaling = target_scaling
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.monitor = monitor
        self.lr_schedule = lr_schedule
        self.device = device
        self.random_state = random_state

    def _check_parameters(self) -> None:
        super()._check_parameters()
        check_hidden_sizes(self.gate_hidden_sizes, type(self).__name__)

    def fit(self, X, y):
        """Train experts and gate on ``X`` (a frame with ``embedder.block`` column names, or a matrix: one expert)."""
        self._check_parameters()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        self.experts_, self.expert_columns_ = expert_columns(getattr(self, "feature_names_in_", None))
        Y = y.reshape(len(y), -1).astype(np.float64)
        self.target_mean_, self.target_scale_ = target_affine(self.target_scaling, Y)
        self._y_ndim = y.ndim
        n_out = Y.shape[1]
        base = RegressionLoss(self.loss, self.tau, self.pairwise_weight, self.margin)
        loss = MixtureLoss(base, n_out, float(self.expert_loss_weight))
        return self._fit_network(
            X, (Y - self.target_mean_) / self.target_scale_, loss, n_outputs=n_out,
            decode=lambda output: output[:, :n_out].double().cpu().numpy(),
        )

    def _build_network(self) -> nn.Module:
        return MixtureOfExperts(self.expert_columns_, self.n_features_in_, self.hidden_sizes, self.gate_hidden_sizes,
                                self.n_outputs_, self.activation, self.dropout)

    def predict(self, X) -> np.ndarray:
        """The gate-weighted sum of the experts' predictions, on the scale of ``y``."""
        output = self._predict_network(X)[:, : self.n_outputs_]
        return self._shape_output(output * self.target_scale_ + self.target_mean_)

    def predict_gates(self, X) -> np.ndarray:
        """The gate's weight of every expert (``experts_``) per row: (n, n_experts), rows sum to 1."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        with torch.no_grad():
            return self.module_.parts(torch.tensor(X, dtype=torch.float64))[1].numpy()

    def predict_experts(self, X) -> np.ndarray:
        """Every expert's own prediction, on the scale of ``y``: (n, n_experts) for a 1-D ``y``, else (n, n_experts, n_outputs)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        with torch.no_grad():
            outputs = self.module_.parts(torch.tensor(X, dtype=torch.float64))[0].numpy()
        scores = outputs * self.target_scale_ + self.target_mean_
        return scores[:, :, 0] if self._y_ndim == 1 else scores


register_head(
    HeadSpec(
        name="moe",
        summary="mixture of encoder experts: one MLP per embedder's blocks, a per-clip softmax gate, trained jointly (MoEScore)",
        build=lambda random_state=None, **_: MixtureOfExpertsRegressor(random_state=random_state),
        types=(MixtureOfExpertsRegressor,),
        quick={"hidden_sizes": (16,), "max_epochs": 20, "patience": 5, "lr": 1e-2},
        named_columns=True,
    )
)
