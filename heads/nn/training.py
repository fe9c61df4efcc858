"""The one training loop of the torch heads: seeded mini-batch training with early stopping.

A held-out fraction of the training items is scored after every epoch (and before
the first one) by its Spearman correlation (ties broken by the validation loss) or
by the validation loss alone; training stops when that score has not improved for
``patience`` epochs and the weights of the best epoch are restored (the untrained network
of epoch 0 included, unless ``keep_initial`` is false). All randomness
(initialisation, dropout, data order, the validation split) comes from one seed;
the global torch RNG state is forked and restored, so fitting never disturbs it.

The optimiser is AdamW (default), Adam or SGD with momentum, at a constant learning
rate or on a cosine schedule over ``max_epochs``; ``drop_last`` skips the last,
incomplete mini-batch of every epoch. Per-sample arrays (``extras``, e.g. class
weights) are sliced with the rows of every batch and passed to the loss by name; a
head whose network does not output the scores themselves (a distribution over bins)
gives ``decode`` and the scalar ``truth`` the Spearman correlation is computed on.

Inputs are a matrix (one row per item, :class:`DenseInputs`) or any :class:`BatchedInputs`
that cuts its items into batches and turns a batch into the module's arguments (the
frame heads' padded, masked sequences: :class:`clapmos.heads.nn.sequences.SequenceInputs`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from numbers import Integral, Real

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from clapmos.embed.devices import is_device_name, resolve_device
from clapmos.embed.errors import DivergedTrainingWarning

Loss = Callable[..., torch.Tensor]
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("constant", "cosine")


#: scikit-learn parameter constraints of the training settings every torch head has
#: (checked by ``_validate_params`` in the heads' ``fit``, and up front by ``clapmos.heads.runs.validation``).
TRAINING_CONSTRAINTS: dict[str, list] = {
    "lr": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "max_epochs": [Interval(Integral, 0, None, closed="left")],
    "validation_fraction": [Interval(Real, 0, 1, closed="left"), None],
    "patience": [Interval(Integral, 1, None, closed="left")],
    "device": [str],
    "random_state": ["random_state"],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "optimizer": [StrOptions(set(OPTIMIZERS))],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "drop_last": ["boolean"],
    "monitor": [StrOptions({"srcc", "loss"})],
    "lr_schedule": [StrOptions(set(SCHEDULES))],
    "keep_initial": ["boolean"],
}


def check_device_name(device: str, owner: str) -> None:
    """``ValueError`` unless ``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (what the constraints cannot say).

    >>> check_device_name("cuda:1", "TorchMLPRegressor")
    >>> check_device_name("tpu", "TorchMLPRegressor")
    Traceback (most recent call last):
    ValueError: The 'device' parameter of TorchMLPRegressor must be 'auto', 'cpu', 'cuda' or 'cuda:N'. Got 'tpu' instead.
    """
    if not is_device_name(device):
        raise ValueError(f"The 'device' parameter of {owner} must be 'auto', 'cpu', 'cuda' or 'cuda:N'. Got {device!r} instead.")


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
    optimizer: str = "adamw"
    momentum: float = 0.9
    drop_last: bool = False
    lr_schedule: str = "constant"
    keep_initial: bool = True

    @classmethod
    def of(cls, estimator) -> "TrainingOptions":
        """The settings of a torch head: its parameters of the same names (defaults for those it lacks)."""
        return cls(**{f.name: getattr(estimator, f.name) for f in fields(cls) if hasattr(estimator, f.name)})

    def make_optimizer(self, parameters) -> torch.optim.Optimizer:
        """The optimiser these options name, on ``parameters``."""
        if self.optimizer == "sgd":
            return torch.optim.SGD(parameters, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        cls = torch.optim.Adam if self.optimizer == "adam" else torch.optim.AdamW
        return cls(parameters, lr=self.lr, weight_decay=self.weight_decay)


@dataclass
class TrainingResult:
    """The trained module (best epoch, on the CPU, in eval mode) and its per-epoch history."""

    module: nn.Module
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def seed_from(random_state) -> int:
    """The torch seed of ``random_state``: an int is used as it is (a published seed 42 seeds torch with 42);
    a ``RandomState`` or ``None`` gives a drawn one (via ``check_random_state``).

    >>> seed_from(42)
    42
    """
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return int(random_state)
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

    def is_full(self, batch: torch.Tensor, batch_size: int) -> bool:
        """Whether ``batch`` is a whole batch of ``batch_size`` (what ``drop_last`` keeps)."""
        return len(batch) == batch_size

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


@dataclass
class _Data:
    """The training data: inputs, loss targets, per-sample loss arguments, and what SRCC is computed on."""

    inputs: BatchedInputs
    Y: torch.Tensor
    extras: dict[str, torch.Tensor]
    truth: np.ndarray
    decode: Callable[[torch.Tensor], np.ndarray]

    def loss(self, loss_fn: Loss, output: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        idx = idx.to(self.Y.device)
        return loss_fn(output, self.Y[idx], **{k: v[idx] for k, v in self.extras.items()})


def train_module(
    build: Callable[[], nn.Module],
    X: np.ndarray | BatchedInputs,
    Y: np.ndarray,
    loss_fn: Loss,
    options: TrainingOptions,
    seed: int,
    *,
    extras: dict[str, np.ndarray] | None = None,
    decode: Callable[[torch.Tensor], np.ndarray] | None = None,
    truth: np.ndarray | None = None,
    split: tuple[np.ndarray, np.ndarray | None] | None = None,
) -> TrainingResult:
    """Build a module from ``seed`` and fit it to ``Y`` (n, ...) from ``X`` (n, d) or batched inputs.

    ``loss_fn(output, Y[batch], **{name: extras[name][batch]})`` is minimised. The
    validation Spearman correlation compares ``decode(output)`` (default: the output
    itself) with ``truth`` (n, n_outputs) (default: ``Y``). The options are the head's
    parameters, checked by the head (``_check_parameters``) before it calls this.
    ``split`` gives the (training, validation) row indices instead of the seed's random
    ``validation_fraction`` (a head that makes its validation targets differently, as SPO's:
    :func:`validation_split` gives the rows the seed would pick).
    """
    device = resolve_device(options.device, option="device")
    inputs = X if isinstance(X, BatchedInputs) else DenseInputs(X)
    order = torch.Generator().manual_seed(seed)
    train_idx, val_idx = _validation_split(len(inputs), options.validation_fraction, order)
    if split is not None:
        train_idx = torch.as_tensor(np.asarray(split[0], dtype=np.int64))
        val_idx = None if split[1] is None or len(split[1]) < 2 else torch.as_tensor(np.asarray(split[1], dtype=np.int64))
    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(seed)
        module = build().to(device)
        data = _Data(
            inputs=inputs.to(device),
            Y=torch.tensor(Y, dtype=torch.float32, device=device),
            extras={k: torch.tensor(v, dtype=torch.float32, device=device) for k, v in (extras or {}).items()},
            truth=np.asarray(Y if truth is None else truth, dtype=np.float64).reshape(len(inputs), -1),
            decode=decode or (lambda output: output.double().cpu().numpy()),
        )
        best_epoch, history = _fit_epochs(module, data, train_idx, val_idx, loss_fn, options, order)
    return TrainingResult(module.cpu().eval(), best_epoch, history)


def _batches(inputs: BatchedInputs, train_idx: torch.Tensor, options: TrainingOptions, order: torch.Generator) -> list[torch.Tensor]:
    """One epoch's shuffled mini-batches (the last, incomplete one dropped with ``drop_last``, unless it is the only one)."""
    batches = inputs.batches(train_idx, options.batch_size, order)
    if options.drop_last and len(batches) > 1:
        batches = [batch for batch in batches if inputs.is_full(batch, options.batch_size)]
    return batches


def _fit_epochs(module, data: _Data, train_idx, val_idx, loss_fn, options: TrainingOptions, order):
    optimizer = options.make_optimizer(module.parameters())
    schedule = None
    if options.lr_schedule == "cosine" and options.max_epochs > 0:
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=options.max_epochs)
    history = [_evaluate(module, data, val_idx, loss_fn, epoch=0, train_loss=float("nan"))]
    best_epoch, best_state = 0, _snapshot(module)
    best_score = _score(history[0], options.monitor) if options.keep_initial else None  # None: the first trained epoch wins
    for epoch in range(1, options.max_epochs + 1):
        module.train()
        total, seen = 0.0, 0
        for batch in _batches(data.inputs, train_idx, options, order):
            loss = data.loss(loss_fn, module(*data.inputs.take(batch)), batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            seen += len(batch)
        if schedule is not None:
            schedule.step()
        record = _evaluate(module, data, val_idx, loss_fn, epoch, total / seen)
        history.append(record)
        if not np.isfinite(record["train_loss"]):
            warnings.warn(f"training loss became {record['train_loss']} at epoch {epoch}; lower lr", DivergedTrainingWarning)
            break
        score = _score(record, options.monitor)
        if val_idx is None or best_score is None or score > best_score:
            best_epoch, best_state, best_score = epoch, _snapshot(module), score
        elif epoch - best_epoch >= options.patience:
            break
    module.load_state_dict(best_state)
    return best_epoch, history


def _evaluate(module, data: _Data, val_idx, loss_fn, epoch, train_loss):
    record = {"epoch": epoch, "train_loss": train_loss, "val_loss": float("nan"), "val_srcc": float("nan")}
    if val_idx is None:
        return record
    module.eval()
    with torch.no_grad():
        batches = data.inputs.eval_batches(val_idx)
        output = torch.cat([module(*data.inputs.take(batch)) for batch in batches])
        idx = torch.cat(batches)
        record["val_loss"] = float(data.loss(loss_fn, output, idx).item())
        predicted = np.asarray(data.decode(output), dtype=np.float64).reshape(len(idx), -1)
        record["val_srcc"] = mean_srcc(predicted, data.truth[idx.numpy()])
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


def validation_split(n: int, fraction: float | None, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The (training, validation) rows :func:`train_module` picks for ``n`` items with this ``seed``.

    >>> train, val = validation_split(10, 0.2, seed=0)
    >>> len(train), len(val), sorted([*train, *val]) == list(range(10))
    (8, 2, True)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # train_module warns when it trains
        train, val = _validation_split(n, fraction, torch.Generator().manual_seed(seed))
    return train.numpy(), None if val is None else val.numpy()


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
