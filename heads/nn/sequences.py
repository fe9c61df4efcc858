"""Frame tokens as torch mini-batches: clips of similar length share a batch, padded to its longest only.

:class:`SequenceInputs` feeds :func:`clapmos.heads.nn.training.train_module` (and prediction) from
a :class:`~clapmos.embed.store.frames.Frames` container held in memory in its stored dtype (float16
halves the memory). A batch is built on demand in one gather: the tokens of its clips,
padded to the longest clip *of the batch* (a clip's padding repeats its last token, and
a mask marks it, so the network never reads it); clips are bucketed by length
(shuffled, then sorted by length within pools of a few batches), so padding stays small
without fixing the batch composition. The tokens are standardised by the network
itself (:class:`clapmos.heads.nn.attention_net.FrameAttentionNet`).

>>> import torch
>>> from clapmos.embed.store.frames import Frames
>>> frames = Frames.from_list([np.ones((3, 2)), np.ones((1, 2)), np.ones((2, 2))])
>>> padded, padding = SequenceInputs(frames).take(torch.tensor([0, 1]))
>>> tuple(padded.shape), padding.tolist()
((2, 3, 2), [[False, False, False], [False, True, True]])
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from clapmos.embed.store.frames import Frames
from clapmos.heads.nn.training import BatchedInputs

POOL_BATCHES = 16  # clips are sorted by length within pools of this many batches
EVAL_BATCH = 64  # clips per batch when scoring (predictions run in float64)


class SequenceInputs(BatchedInputs):
    """Padded, masked batches of ``frames`` (and their text vectors, when ``text_mean`` is given).

    ``take(batch)`` returns ``(frames (B, L, D), padding (B, L) bool[, text (B, Dt)])``
    with ``L`` the longest clip of the batch and ``True`` marking padding.
    """

    def __init__(
        self,
        frames: Frames,
        text_mean: np.ndarray | None = None,
        text_scale: np.ndarray | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.frames = frames
        self.lengths = frames.lengths
        self.dtype = dtype
        self.values = torch.from_numpy(np.require(frames.values, requirements=["C_CONTIGUOUS", "WRITEABLE"]))
        self.text = None
        if text_mean is not None:
            self.text = torch.as_tensor((np.asarray(frames.text, dtype=np.float64) - text_mean) / text_scale, dtype=dtype)

    def __len__(self) -> int:
        return len(self.frames)

    def to(self, device: torch.device) -> "SequenceInputs":
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
        lengths = self.lengths[rows]
        longest = int(lengths.max()) if len(rows) else 0
        within = np.minimum(np.arange(longest)[None, :], lengths[:, None] - 1)  # padding repeats the last token
        tokens = torch.from_numpy((self.frames.offsets[rows][:, None] + within).ravel())
        padded = self.values[tokens].to(device=self.device, dtype=self.dtype).view(len(rows), longest, -1)
        padding = torch.from_numpy(np.arange(longest)[None, :] >= lengths[:, None]).to(self.device)
        if self.text is None:
            return padded, padding
        return padded, padding, self.text[batch.to(self.device)]


def frame_statistics(frames: Frames, block: int = 16384) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation (1 where it is 0) over every token, block by block (float64,
    scikit-learn's incremental ``StandardScaler``, so a large mean does not eat a small spread).

    >>> mean, scale = frame_statistics(Frames.from_list([np.array([[1.0, 5.0], [3.0, 5.0]])]))
    >>> mean.tolist(), scale.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    """
    scaler = StandardScaler()
    for first in range(0, len(frames.values), block):
        scaler.partial_fit(np.asarray(frames.values[first : first + block], dtype=np.float64))
    if not len(frames.values):
        return np.zeros(frames.frame_dim), np.ones(frames.frame_dim)
    std = np.sqrt(scaler.var_)
    return scaler.mean_, np.where(std > 1e-6 * np.maximum(np.abs(scaler.mean_), 1.0), std, 1.0)
