"""Holding torch's scaled-dot-product attention to chosen kernels on CUDA.

Used by: xstage score --backend hf (scoring.forward) and xstage train / xstage sft
(training.loop, recipe field `sdpa_kernels`). Torch only, imported lazily: the ground floor
stays importable without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def sdpa_held_to(
    device: torch.device, backends: Sequence[str] | None
) -> contextlib.AbstractContextManager:
    """SDPA held to `backends` (SDPBackend names) on CUDA; torch's own choice if None or on CPU.

    On CPU only MATH (and a flash CPU kernel) exist, so a CUDA policy would only fail there.
    """
    if backends is None or device.type != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([getattr(SDPBackend, name) for name in backends])
