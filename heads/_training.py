"""The one training loop of the torch heads: seeded mini-batch AdamW with early stopping.

A held-out fraction of the training items is scored after every epoch (and before
the first one) by its Spearman correlation (ties broken by the validation loss) or
by the validation loss alone; training stops when that score has not improved for
``patience`` epochs and the weights of the best epoch are restored. All randomness
(initialisation, dropout, data order, the validation split) comes from one seed;
the global torch RNG state is forked and restored, so fitting never disturbs it.

Inputs are a matrix (one row per item, :class:`DenseInputs`) or any :class:`BatchedInputs`
that cuts its items into batches and turns a batch into the module's arguments (the
frame heads' padded, masked sequences: :class:`heads.sequences.SequenceInputs`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.utils import check_random_state
from torch import nn

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TrainingOptions:
    """Optimiser and early-stopping settings shared by the torch heads."""

    lr: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    validation_fraction: float | None
    patience: int
    device: str
    monitor: str = "srcc"

    @classmethod
    def of(cls, estimator) -> "TrainingOptions":
        """The settings of a torch head with the parameters ``lr``, ``weight_decay``, ``batch_size``, ... ``device``."""
        names = ("lr", "weight_decay", "batch_size", "max_epochs", "validation_fraction", "patience", "device")
        return cls(**{name: getattr(estimator, name) for name in names})

    def check(self) -> None:
        """Raise ``ValueError`` naming the first setting out of range."""
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        for name in ("batch_size", "patience"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not (isinstance(self.max_epochs, (int, np.integer)) and self.max_epochs >= 0):
            raise ValueError(f"max_epochs must be an integer >= 0, got {self.max_epochs!r}")
        if self.validation_fraction is not None and not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1) or None, got {self.validation_fraction}")
        if self.device not in ("auto", "cpu") and not str(self.device).startswith("cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")


def check_device(device: str) -> None:
    """Refuse a ``--device`` that is not ``auto``, ``cpu`` or ``cuda[:N]``, or CUDA where there is none."""
    from embed.errors import ClapmosError

    if device not in ("auto", "cpu") and not (device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
        raise ClapmosError(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ClapmosError(f"--device {device}: this machine has no CUDA device (torch sees none); use --device cpu.")


@dataclass
class TrainingResult:
    """The trained module (best epoch, on the CPU, in eval mode) and its per-epoch history."""

    module: nn.Module
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def seed_from(random_state) -> int:
    """One integer seed from an int, a ``RandomState`` or ``None`` (via ``check_random_state``)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def mean_srcc(pred: np.ndarray, target: np.ndarray) -> float:
    """Spearman correlation averaged over output columns; NaN columns (constant input) are skipped.

    >>> mean_srcc(np.array([[1.0], [2.0], [3.0]]), np.array([[0.1], [0.2], [0.0]]))
    -0.5
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = [spearmanr(pred[:, j], target[:, j]).statistic for j in range(target.shape[1])]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


class BatchedInputs:
    """Model inputs that cut items into mini-batches; :func:`train_module` takes any of them.

    ``take(batch)`` returns the module's positional arguments for the items ``batch``
    (a CPU index tensor), on the device given to :meth:`to`.
    """

    device = torch.device("cpu")

    def __len__(self) -> int:
        raise NotImplementedError

    def to(self, device: torch.device) -> "BatchedInputs":
        self.device = device
        return self

    def batches(self, items: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
        """The training batches of one epoch: ``items`` shuffled and cut into ``batch_size`` pieces."""
        return list(torch.split(items[torch.randperm(len(items), generator=generator)], batch_size))

    def eval_batches(self, items: torch.Tensor) -> list[torch.Tensor]:
        """Batches to score ``items`` with (every item once, in any order)."""
        return [items]

    def take(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError


class DenseInputs(BatchedInputs):
    """A matrix ``X`` (n, d): batch ``b`` is ``X[b]``."""

    def __init__(self, X: np.ndarray) -> None:
        self.X = X

    def __len__(self) -> int:
        return len(self.X)

    def to(self, device: torch.device) -> "DenseInputs":
        self.X_t = torch.tensor(self.X, dtype=torch.float32, device=device)
        return super().to(device)

    def take(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.X_t[batch.to(self.device)],)


def train_module(
    build: Callable[[], nn.Module],
    X: np.ndarray | BatchedInputs,
    Y: np.ndarray,
    loss_fn: Loss,
    options: TrainingOptions,
    seed: int,
) -> TrainingResult:
    """Build a module from ``seed`` and fit it to ``Y`` (n, n_outputs) from ``X`` (n, d) or batched inputs."""
    options.check()
    device = resolve_device(options.device)
    inputs = X if isinstance(X, BatchedInputs) else DenseInputs(X)
    order = torch.Generator().manual_seed(seed)
    train_idx, val_idx = _validation_split(len(inputs), options.validation_fraction, order)
    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(seed)
        module = build().to(device)
        inputs = inputs.to(device)
        Y_t = torch.tensor(Y, dtype=torch.float32, device=device)
        best_epoch, history = _fit_epochs(module, inputs, Y_t, train_idx, val_idx, loss_fn, options, order)
    return TrainingResult(module.cpu().eval(), best_epoch, history)


def _fit_epochs(module, inputs, Y, train_idx, val_idx, loss_fn, options, order):
    optimizer = torch.optim.AdamW(module.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    history = [_evaluate(module, inputs, Y, val_idx, loss_fn, epoch=0, train_loss=float("nan"))]
    best_epoch, best_state = 0, _snapshot(module)
    best_score = _score(history[0], options.monitor)
    for epoch in range(1, options.max_epochs + 1):
        module.train()
        total = 0.0
        for batch in inputs.batches(train_idx, options.batch_size, order):
            loss = loss_fn(module(*inputs.take(batch)), Y[batch.to(Y.device)])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        record = _evaluate(module, inputs, Y, val_idx, loss_fn, epoch, total / len(train_idx))
        history.append(record)
        if not np.isfinite(record["train_loss"]):
            warnings.warn(f"training loss became {record['train_loss']} at epoch {epoch}; lower lr", RuntimeWarning)
            break
        score = _score(record, options.monitor)
        if val_idx is None or score > best_score:
            best_epoch, best_state, best_score = epoch, _snapshot(module), score
        elif epoch - best_epoch >= options.patience:
            break
    module.load_state_dict(best_state)
    return best_epoch, history


def _evaluate(module, inputs, Y, val_idx, loss_fn, epoch, train_loss):
    record = {"epoch": epoch, "train_loss": train_loss, "val_loss": float("nan"), "val_srcc": float("nan")}
    if val_idx is None:
        return record
    module.eval()
    with torch.no_grad():
        batches = inputs.eval_batches(val_idx)
        pred = torch.cat([module(*inputs.take(batch)) for batch in batches])
        idx = torch.cat(batches).to(Y.device)
        record["val_loss"] = float(loss_fn(pred, Y[idx]).item())
        record["val_srcc"] = mean_srcc(pred.double().cpu().numpy(), Y[idx].double().cpu().numpy())
    return record


def _score(record: dict[str, float], monitor: str) -> tuple[float, ...]:
    """Higher is better: SRCC with ties broken by validation loss, or the loss alone; NaN is worst."""
    loss = -record["val_loss"] if np.isfinite(record["val_loss"]) else -np.inf
    if monitor == "loss":
        return (loss,)
    srcc = record["val_srcc"] if np.isfinite(record["val_srcc"]) else -np.inf
    return (srcc, loss)


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def _validation_split(n: int, fraction: float | None, generator: torch.Generator):
    """Random (train, validation) index tensors; validation is ``None`` when there is none."""
    permutation = torch.randperm(n, generator=generator)
    n_val = int(round((fraction or 0.0) * n))
    if not fraction:
        return permutation, None
    if n_val < 2 or n_val >= n:
        warnings.warn(
            f"validation_fraction={fraction} of {n} sample(s) leaves no usable validation set; "
            "training for max_epochs without early stopping",
            UserWarning,
        )
        return permutation, None
    return permutation[n_val:], permutation[:n_val]
