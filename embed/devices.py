"""Device and precision names, and which torch device a name means: shared by the embedders,
the torch heads and the command line (importing this module does not import torch).

>>> is_device_name("cuda:1"), is_device_name("tpu")
(True, False)
>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from clapmos.embed.errors import ClapmosError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")  # and cuda:N
PRECISION_NAMES = ("fp32", "fp16", "bf16")


def is_device_name(device: object) -> bool:
    """Whether ``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    return isinstance(device, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", device.strip().lower()) is not None


def resolve_device(device: str, option: str = "--device") -> "torch.device":
    """The torch device for ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; a clear error otherwise.

    ``auto`` is CUDA when torch sees a GPU, else the CPU. ``option`` names where the value
    came from in messages (``--device``, or a head's ``device`` parameter).
    """
    import torch

    if not is_device_name(device):
        raise ClapmosError(f"{option} {device!r}: choose one of {', '.join(DEVICES)} (or cuda:N).")
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ClapmosError(
            f"{option} {device}: torch sees no CUDA GPU here (torch {torch.__version__}). "
            "Use cpu (or auto), or install a CUDA build of torch."
        )
    return torch.device(name)
