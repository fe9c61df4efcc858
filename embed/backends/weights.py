"""Weight files the user supplies: loading them safely.

Checkpoints are read with ``torch.load(weights_only=True)``: tensors, plain containers
and numbers only, never code from the file. The one extension is numpy's scalar
reconstruction (``numpy.core.multiarray.scalar`` with its dtypes), which LAION's
published checkpoints use for a metric stored next to the weights; it builds a number
from raw bytes and is allowed only for the duration of the load. Zip-format files are
memory-mapped, so tensors the model does not use (an optimizer state) are never read.

>>> import tempfile, torch
>>> path = tempfile.mkdtemp() + "/w.pt"
>>> torch.save({"state_dict": {"w": torch.ones(2)}}, path)
>>> load_checkpoint(path)["state_dict"]["w"].tolist()
[1.0, 1.0]

Requiring the file and hashing it are :func:`clapmos.embed.files.require_file` and
:func:`clapmos.embed.files.file_sha256`.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clapmos.embed.errors import ClapmosError

try:
    from numpy._core.multiarray import scalar as _numpy_scalar  # numpy 2 (and numpy 1.26's forward alias)
except ImportError:
    from numpy.core.multiarray import scalar as _numpy_scalar

NUMPY_SCALAR_GLOBALS: list[Any] = [
    (_numpy_scalar, "numpy.core.multiarray.scalar"),
    (_numpy_scalar, "numpy._core.multiarray.scalar"),
    np.dtype,
    *(type(np.dtype(t)) for t in ("float16", "float32", "float64", "int32", "int64", "bool")),
]


def load_checkpoint(path: str | Path) -> Any:
    """Unpickle a torch checkpoint on the CPU without running code from it.

    Raises :class:`ClapmosError` naming the file when it is not a torch checkpoint
    or when reading it would need code execution (an object other than tensors,
    containers, numbers and numpy scalars).
    """
    path = Path(path)
    try:
        with torch.serialization.safe_globals(NUMPY_SCALAR_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as error:
        raise ClapmosError(_refusal(path, str(error))) from None
    except Exception as error:  # torch reports a non-checkpoint file as several error types
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ClapmosError(f"{path}: not a PyTorch checkpoint ({detail}). Pass the .pt/.pth file of the model.") from None


def _refusal(path: Path, message: str) -> str:
    if "Weights only load failed" not in message:
        return f"{path}: not a PyTorch checkpoint ({message.strip().splitlines()[0]}). Pass the .pt/.pth file of the model."
    found = re.search(r"GLOBAL (\S+)", message)
    operand = re.search(r"Unsupported operand (\d+)", message)
    if found:
        reason = f"its pickle would call {found.group(1)}, i.e. run code from the file"
    elif operand:
        reason = f"its pickle uses an instruction torch's safe loader does not read (opcode {operand.group(1)})"
    else:
        reason = "its pickle holds objects other than tensors, containers and numbers"
    return (
        f"{path}: refused to load: {reason}. clapmos reads checkpoints with torch.load(weights_only=True) "
        "and never executes code from them. Use the checkpoint file as published by the model's authors; "
        "if you re-saved it yourself, save only its state dict (torch.save(model.state_dict(), path))."
    )
