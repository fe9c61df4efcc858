"""Frame tokens as torch mini-batches: clips of similar length share a batch, padded to its longest only.

:class:`SequenceInputs` feeds :func:`heads._training.train_module` (and prediction) from
a :class:`~embed.frames.Frames` container held in memory in its stored dtype (float16
halves the memory). A batch is built on demand: the tokens of its clips are gathered,
standardised per dimension, and padded to the longest clip *of the batch*, with a mask
marking the padding; clips are bucketed by length (shuffled, then sorted by length
within pools of a few batches), so padding stays small without fixing the batch
composition.

>>> import torch
>>> from embed.frames import Frames
>>> frames = Frames.from_list([np.ones((3, 2)), np.ones((1, 2)), np.ones((2, 2))])
>>> inputs = SequenceInputs(frames, mean=np.zeros(2), scale=np.ones(2))
>>> padded, padding = inputs.take(torch.tensor([0, 1]))
>>> tuple(padded.shape), padding.tolist()
((2, 3, 2), [[False, False, False], [False, True, True]])
"""

from __future__ import annotations

import numpy as np
import torch

from embed.frames import Frames
from heads._training import BatchedInputs

POOL_BATCHES = 16  # clips are sorted by length within pools of this many batches
EVAL_BATCH = 256  # clips per batch when scoring


class SequenceInputs(BatchedInputs):
    """Padded, masked batches of ``frames`` (and their text vectors, when ``text_mean`` is given).

    ``take(batch)`` returns ``(frames (B, L, D), padding (B, L) bool[, text (B, Dt)])``
    with ``L`` the longest clip of the batch and ``True`` marking padding.
    """

    def __init__(
        self,
        frames: Frames,
        mean: np.ndarray,
        scale: np.ndarray,
        text_mean: np.ndarray | None = None,
        text_scale: np.ndarray | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.frames = frames
        self.lengths = frames.lengths
        self.dtype = dtype
        self.values = torch.from_numpy(np.require(frames.values, requirements=["C_CONTIGUOUS", "WRITEABLE"]))
        self.mean = torch.as_tensor(mean, dtype=dtype)
        self.scale = torch.as_tensor(scale, dtype=dtype)
        self.text = None
        if text_mean is not None:
            self.text = torch.as_tensor((np.asarray(frames.text, dtype=np.float64) - text_mean) / text_scale, dtype=dtype)

    def __len__(self) -> int:
        return len(self.frames)

    def to(self, device: torch.device) -> "SequenceInputs":
        self.mean, self.scale = self.mean.to(device), self.scale.to(device)
        if self.text is not None:
            self.text = self.text.to(device)
        return super().to(device)

    def batches(self, items: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
        """Shuffled, then sorted by length within pools of :data:`POOL_BATCHES` batches; the batches in random order."""
        shuffled = items[torch.randperm(len(items), generator=generator)]
        batches = []
        for pool in torch.split(shuffled, batch_size * POOL_BATCHES):
            ordered = pool[np.argsort(self.lengths[pool.numpy()], kind="stable")]
            batches += list(torch.split(ordered, batch_size))
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]

    def eval_batches(self, items: torch.Tensor) -> list[torch.Tensor]:
        """Sorted by length, :data:`EVAL_BATCH` clips per batch."""
        ordered = items[np.argsort(self.lengths[items.numpy()], kind="stable")]
        return list(torch.split(ordered, EVAL_BATCH))

    def take(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        rows = batch.numpy()
        tokens, owner, position = self.frames.token_index(rows)
        longest = int(self.lengths[rows].max()) if len(rows) else 0
        padded = torch.zeros((len(rows), longest, self.frames.frame_dim), dtype=self.dtype, device=self.device)
        gathered = self.values[torch.from_numpy(tokens)].to(device=self.device, dtype=self.dtype)
        padded[torch.from_numpy(owner), torch.from_numpy(position)] = (gathered - self.mean) / self.scale
        padding = torch.ones((len(rows), longest), dtype=torch.bool, device=self.device)
        padding[torch.from_numpy(owner), torch.from_numpy(position)] = False
        if self.text is None:
            return padded, padding
        return padded, padding, self.text[batch.to(self.device)]


def frame_statistics(frames: Frames, block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation (1 where it is 0) over every token, in float64, block by block."""
    total = np.zeros(frames.frame_dim)
    squares = np.zeros(frames.frame_dim)
    for start in range(0, len(frames.values), block):
        chunk = np.asarray(frames.values[start : start + block], dtype=np.float64)
        total += chunk.sum(axis=0)
        squares += (chunk**2).sum(axis=0)
    n = max(len(frames.values), 1)
    mean = total / n
    std = np.sqrt(np.maximum(squares / n - mean**2, 0.0))
    return mean, np.where(std > 1e-12, std, 1.0)
