"""Which torch device a device name means: shared by the embedders and the torch heads.

>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from embed.errors import ClapmosError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str, option: str = "--device") -> "torch.device":
    """The torch device for ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; a clear error otherwise.

    ``auto`` is CUDA when torch sees a GPU, else the CPU. ``option`` names where the value
    came from in messages (``--device``, or a head's ``device`` parameter).
    """
    import torch

    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ClapmosError(
                f"{option} {device}: torch sees no CUDA GPU here (torch {torch.__version__}). "
                "Use cpu (or auto), or install a CUDA build of torch."
            )
        return torch.device(name)
    raise ClapmosError(f"{option} {device!r}: choose one of {', '.join(DEVICES)} (or cuda:N).")
