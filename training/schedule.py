"""Learning-rate schedule: linear warmup, then cosine decay to a floor.

Used by: xstage train and xstage sft (every optimizer step asks lr_at).
"""

from __future__ import annotations

import math


def warmup_steps(total_steps: int, warmup_fraction: float) -> int:
    """Warmup length in steps: the fraction of the run, at least one step when it is > 0."""
    if warmup_fraction <= 0:
        return 0
    return max(1, round(total_steps * warmup_fraction))


def lr_at(step: int, total_steps: int, peak_lr: float, warmup: int, min_lr_ratio: float) -> float:
    """Learning rate of optimizer step `step` (1-based).

    Warmup: peak * step / warmup for step <= warmup. Then cosine from peak at the end of warmup
    to peak * min_lr_ratio at `total_steps`.
    """
    assert 1 <= step <= total_steps, f"step {step} outside 1..{total_steps}"
    if step <= warmup:
        return peak_lr * step / warmup
    floor = peak_lr * min_lr_ratio
    decay_steps = total_steps - warmup
    progress = (step - warmup) / decay_steps if decay_steps else 1.0
    return floor + (peak_lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
