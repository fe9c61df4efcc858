"""Where and in which precision a torch embedder runs (shared by ``clap`` and ``m2d``).

``auto`` picks CUDA when torch sees a GPU and the CPU otherwise. Half precision
(``fp16``/``bf16``) is CUDA autocast; asked for on the CPU it falls back to fp32 with
one warning, because CPU half precision is slow and changes the numbers for nothing.

>>> resolve_device("cpu")
device(type='cpu')
>>> resolve_precision("fp32", resolve_device("cpu"))
'fp32'
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch

from clapmos.embed.devices import DEVICES, PRECISION_NAMES, resolve_device
from clapmos.embed.errors import ClapmosError

__all__ = ["DEVICES", "PRECISIONS", "autocast", "resolve_device", "resolve_precision"]
log = logging.getLogger(__name__)
PRECISIONS = dict(zip(PRECISION_NAMES, (torch.float32, torch.float16, torch.bfloat16)))
_warned_cpu_half = False


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision actually used: ``precision`` on CUDA, fp32 on the CPU (warned once)."""
    global _warned_cpu_half
    name = str(precision).strip().lower()
    if name not in PRECISIONS:
        raise ClapmosError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}.")
    if name != "fp32" and device.type != "cuda":
        if not _warned_cpu_half:
            log.warning("--precision %s applies on CUDA only; running in fp32 on %s", name, device)
            _warned_cpu_half = True
        return "fp32"
    return name


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """CUDA autocast to ``precision`` (already resolved); a no-op for fp32."""
    if precision == "fp32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=PRECISIONS[precision]):
        yield
