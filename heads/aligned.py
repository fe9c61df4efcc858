"""Several listening tests in one model, AlignNet-style (METHODS.md §8): a shared score, a per-corpus affine map.

Each listening test has its own listeners, scale use and range, so the raw scores of two corpora
are not comparable: pooling them naively teaches a model that the same quality is worth 3 in one
test and 7 in another. :class:`CorpusAlignedRegressor` learns one corpus-independent score
``s(x)`` (an MLP shared by every corpus) and, per corpus ``c``, an affine map
``a_c + b_c · s(x)`` (``b_c > 0``) onto that corpus's scale, trained jointly on every corpus's
clips, each corpus's errors weighted by ``1/b_c²`` (its scale's stretch, estimated from the moments
of its ratings before training) so that every corpus counts on the shared score's scale. The first corpus (in sorted order, or ``reference_corpus``) is the reference: its map is
the identity, which fixes the shared score's scale. Targets of different names or ranges are
mapped by the caller (``corpus`` says where each row comes from); nothing is guessed.

``predict(X, corpus=labels)`` gives each row on its own corpus's scale; ``predict(X)`` on the
reference corpus's. As the head ``aligned``, it is what ``fit --store A --store B`` trains
(:mod:`clapmos.heads.runs.corpora`): the corpus label of each row reaches ``fit`` and ``predict``
through the ensemble.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from clapmos.heads.inputs.targets import target_affine
from clapmos.heads.mlp import TorchMLPRegressor, build_mlp
from clapmos.heads.nn.losses import RegressionLoss
from clapmos.heads.nn.training import DenseInputs
from clapmos.heads.registry import HeadSpec, register_head


class CorpusAlignedNet(nn.Module):
    """``shift[c] + exp(log_stretch[c]) * mlp(x)``; corpus 0 (the reference) keeps shift 0 and stretch 1."""

    def __init__(self, mlp: nn.Module, shift: np.ndarray, log_stretch: np.ndarray):
        super().__init__()
        self.mlp = mlp
        self.shift = nn.Parameter(torch.as_tensor(shift, dtype=torch.float32))
        self.log_stretch = nn.Parameter(torch.as_tensor(log_stretch, dtype=torch.float32))

    def forward(self, x: torch.Tensor, corpus: torch.Tensor) -> torch.Tensor:
        reference = (corpus != 0).to(x.dtype).unsqueeze(1)  # the reference corpus's map stays the identity
        shift = self.shift[corpus] * reference
        stretch = torch.exp(self.log_stretch[corpus] * reference)
        return shift + stretch * self.mlp(x)


class CorpusRows(DenseInputs):
    """A matrix with one corpus index per row."""

    def __init__(self, X: np.ndarray, corpus: np.ndarray) -> None:
        super().__init__(X)
        self.corpus = corpus

    def to(self, device: torch.device) -> "CorpusRows":
        self.corpus_t = torch.tensor(self.corpus, dtype=torch.long, device=device)
        return super().to(device)

    def take(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        batch = batch.to(self.device)
        return self.X_t[batch], self.corpus_t[batch]


class CorpusAlignedRegressor(TorchMLPRegressor):
    """An MLP shared by several corpora, with a learned per-corpus affine map of its score.

    Parameters
    ----------
    reference_corpus : str or None, default=None
        The corpus whose scale the shared score is on (``None``: the first label in sorted order).
    hidden_sizes, activation, dropout, loss, tau, pairwise_weight, margin, target_scaling, optimizer, lr, weight_decay, momentum, batch_size, drop_last, max_epochs, validation_fraction, patience, monitor, lr_schedule, device, random_state
        As in :class:`~clapmos.heads.mlp.TorchMLPRegressor` (targets are standardised with the
        reference corpus's mean and deviation; early stopping monitors the validation loss by
        default, since one Spearman correlation over rows of differently scaled corpora means little).

    Attributes
    ----------
    corpora_ : ndarray of str
        The corpora seen in ``fit``, the reference first.
    shift_, stretch_ : ndarray of shape (n_corpora, n_outputs)
        Each corpus's map ``shift + stretch · s`` on the score scale (reference: 0 and 1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3)); corpus = np.repeat(["a", "b"], 200)
    >>> y = np.where(corpus == "a", 3 + X[:, 0], 6 + 2 * X[:, 0])
    >>> model = CorpusAlignedRegressor(hidden_sizes=(8,), lr=1e-2, random_state=0).fit(X, y, corpus=corpus)
    >>> model.corpora_.tolist(), model.stretch_[1].round(1).tolist()
    (['a', 'b'], [2.0])
    """

    __metadata_request__fit = {"corpus": True}
    __metadata_request__predict = {"corpus": True}
    _parameter_constraints: dict = {**TorchMLPRegressor._parameter_constraints, "reference_corpus": [str, None]}
    for _name in ("class_balance", "beta", "class_edges"):
        _parameter_constraints.pop(_name)
    del _name

    def __init__(
        self,
        reference_corpus: str | None = None,
        hidden_sizes=(256, 64),
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
        monitor: str = "loss",
        lr_schedule: str = "constant",
        device: str = "auto",
        random_state=None,
    ):
        self.reference_corpus = reference_corpus
        self.hidden_sizes = hidden_sizes
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

    def fit(self, X, y, corpus=None):
        """Train on the rows of every corpus; ``corpus`` (n_samples,) names each row's corpus (``None``: one corpus)."""
        self._check_parameters()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        labels = self._labels(corpus, len(X))
        names = sorted(set(labels))
        if self.reference_corpus is not None:
            if self.reference_corpus not in names:
                raise ValueError(f"reference_corpus={self.reference_corpus!r} is not one of the corpora {names}")
            names.remove(self.reference_corpus)
            names.insert(0, self.reference_corpus)
        self.corpora_ = np.array(names, dtype=str)
        index = self._index(labels)
        Y = y.reshape(len(y), -1).astype(np.float64)
        self._y_ndim = y.ndim
        self.target_mean_, self.target_scale_ = target_affine(self.target_scaling, Y[index == 0])
        Z = (Y - self.target_mean_) / self.target_scale_
        self._init = _moment_start(Z, index, len(self.corpora_))
        # errors measured on the shared score's scale: a corpus rated on a scale stretched b times has its squared
        # errors weighted 1/b² (b from the moment start), so a wide-scale corpus does not outweigh the others
        weight = np.exp(-2 * self._init[1][index])
        loss = RegressionLoss(self.loss, self.tau, self.pairwise_weight, self.margin, class_weighting="per_clip")
        self._fit_network(CorpusRows(X, index), Z, loss, n_outputs=Y.shape[1], extras={"weight": weight})
        del self._init
        net = self.module_
        reference = np.arange(len(self.corpora_))[:, None] != 0
        self.stretch_ = np.exp(net.log_stretch.detach().numpy() * reference)
        # on the score scale: y_c = mean + scale·(shift + stretch·s) and s = (y_ref - mean)/scale
        self.shift_ = net.shift.detach().numpy() * reference * self.target_scale_ + self.target_mean_ * (1 - self.stretch_)
        return self

    def _build_network(self) -> nn.Module:
        mlp = build_mlp(self.n_features_in_, self.hidden_sizes, self.n_outputs_, self.activation, self.dropout)
        zeros = np.zeros((len(self.corpora_), self.n_outputs_))
        shift, log_stretch = getattr(self, "_init", (zeros, zeros))
        return CorpusAlignedNet(mlp, shift, log_stretch)

    @staticmethod
    def _labels(corpus, n: int) -> np.ndarray:
        if corpus is None:
            return np.full(n, "", dtype=object).astype(str)
        labels = np.asarray(corpus).astype(str)
        if labels.shape != (n,):
            raise ValueError(f"corpus must name one corpus per row of X ({n}), got shape {labels.shape}")
        return labels

    def _index(self, labels: np.ndarray) -> np.ndarray:
        lookup = {name: i for i, name in enumerate(self.corpora_)}
        unknown = sorted(set(labels) - set(lookup))
        if unknown:
            raise ValueError(f"corpus {unknown} was not seen in fit; the model knows {self.corpora_.tolist()}")
        return np.array([lookup[label] for label in labels], dtype=int)

    def predict(self, X, corpus=None) -> np.ndarray:
        """Scores on each row's corpus scale (``corpus`` given), else on the reference corpus's."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        index = np.zeros(len(X), dtype=int) if corpus is None else self._index(self._labels(corpus, len(X)))
        with torch.no_grad():
            Z = self.module_(torch.tensor(X, dtype=torch.float64), torch.as_tensor(index)).numpy()
        return self._shape_output(Z * self.target_scale_ + self.target_mean_)


def _moment_start(Z: np.ndarray, index: np.ndarray, n_corpora: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the maps start: each corpus's mean and deviation matched to the reference's (as if their clips were alike).

    >>> shift, log_stretch = _moment_start(np.array([[0.0], [2.0], [5.0], [9.0]]), np.array([0, 0, 1, 1]), 2)
    >>> shift.round(3).tolist(), np.exp(log_stretch).round(3).tolist()
    ([[0.0], [5.0]], [[1.0], [2.0]])
    """
    shift, log_stretch = np.zeros((n_corpora, Z.shape[1])), np.zeros((n_corpora, Z.shape[1]))
    reference = Z[index == 0]
    ref_mean, ref_std = reference.mean(axis=0), reference.std(axis=0)
    for c in range(1, n_corpora):
        rows = Z[index == c]
        std = rows.std(axis=0)
        stretch = np.where((ref_std > 0) & (std > 0), std / np.where(ref_std > 0, ref_std, 1.0), 1.0)
        log_stretch[c] = np.log(stretch)
        shift[c] = rows.mean(axis=0) - stretch * ref_mean
    return shift, log_stretch


register_head(
    HeadSpec(
        name="aligned",
        summary="MLP shared by several corpora with a learned per-corpus affine map of its score (AlignNet); fit --store A --store B",
        build=lambda random_state=None, **_: CorpusAlignedRegressor(random_state=random_state),
        types=(CorpusAlignedRegressor,),
        quick={"hidden_sizes": (16,), "max_epochs": 20, "patience": 5, "lr": 1e-2},
    )
)
