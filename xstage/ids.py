"""ID rules shared by configs, lake paths, columns and CLI options (DESIGN §3).

Used by: every command that takes a --scale, --mixture, --benchmark, --stage or --run.
"""

from __future__ import annotations

import re
from enum import StrEnum

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
SCALE_PATTERN = re.compile(r"^(\d+[MBK]|tiny|small)$")
RUN_ID_SEPARATOR = "__"


class Stage(StrEnum):
    """The two checkpoints of a run that the study compares."""

    PRETRAIN = "pretrain"
    SFT = "sft"


def check_slug(value: str, field: str, where: str = "") -> str:
    """Return `value` if it is a lowercase snake_case slug, else raise naming field and place."""
    if not isinstance(value, str) or not SLUG_PATTERN.match(value):
        place = f"{where}: " if where else ""
        raise ValueError(f"{place}{field}={value!r} is not a slug (expected ^[a-z][a-z0-9_]*$)")
    return value


def check_scale(value: str, field: str = "scale", where: str = "") -> str:
    """Return `value` if it is a scale name (`240M`, `1B`, `tiny`, `small`), else raise."""
    if not isinstance(value, str) or not SCALE_PATTERN.match(value):
        place = f"{where}: " if where else ""
        raise ValueError(f"{place}{field}={value!r} is not a scale (expected e.g. 240M, 1B, tiny)")
    return value


def check_stage(value: str, field: str = "stage", where: str = "") -> Stage:
    """Return the Stage named by `value`, else raise naming the accepted values."""
    try:
        return Stage(value)
    except ValueError:
        place = f"{where}: " if where else ""
        raise ValueError(f"{place}{field}={value!r} must be one of pretrain, sft") from None


def check_run_id(value: str, field: str = "run_id", where: str = "") -> str:
    """Return `value` if it is a valid run id: a trained run's id or a free slug.

    Trained runs look like `240M__web70_code30__seed0`; external ones are plain slugs. Both
    reject path separators, dots and spaces, which also blocks path traversal.
    """
    parts = value.split(RUN_ID_SEPARATOR) if isinstance(value, str) else []
    if len(parts) == 3 and SCALE_PATTERN.match(parts[0]) and re.match(r"^seed\d+$", parts[2]):
        check_slug(parts[1], field, where)
        return value
    return check_slug(value, field, where)


def run_id(scale: str, mixture: str, seed: int) -> str:
    """The id of a trained run: `{scale}__{mixture}__seed{seed}`. Never parsed back."""
    check_scale(scale)
    check_slug(mixture, "mixture")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    return f"{scale}{RUN_ID_SEPARATOR}{mixture}{RUN_ID_SEPARATOR}seed{seed}"
