"""ID rules shared by configs, lake paths, columns and CLI options (DESIGN §3).

Used by: every command that takes a --scale, --mixture, --benchmark, --stage or --run.
"""

from __future__ import annotations

import re
from enum import StrEnum

# \A...\Z, not ^...$: `$` also matches before a trailing newline, so "abc\n" passed `^...$`.
SLUG_PATTERN = re.compile(r"\A[a-z][a-z0-9_]*\Z")
SCALE_PATTERN = re.compile(r"\A(\d+(\.\d+)?[MBK]|tiny|small)\Z")
NAME_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
"""Run ids, units and groups: real model names (`Llama-3-8B`, `pythia-1.4b-deduped`)."""
NAME_RULE = "letters, digits, '-', '.', '_'; starting with a letter or digit; at most 128"
RUN_ID_SEPARATOR = "__"


class Stage(StrEnum):
    """The two checkpoints of a run that the study compares."""

    PRETRAIN = "pretrain"
    SFT = "sft"


def check_slug(value: str, field: str, where: str = "") -> str:
    """Return `value` if it is a lowercase snake_case slug, else raise naming field and place."""
    if not isinstance(value, str) or not SLUG_PATTERN.fullmatch(value):
        place = f"{where}: " if where else ""
        raise ValueError(f"{place}{field}={value!r} is not a slug (expected ^[a-z][a-z0-9_]*$)")
    return value


def check_name(value: str, field: str, where: str = "") -> str:
    """Return `value` if it is a name (run id, unit, group): see NAME_PATTERN, else raise."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        place = f"{where}: " if where else ""
        raise ValueError(f"{place}{field}={value!r} is not a name ({NAME_RULE})")
    return value


def path_key(value: str, field: str = "name") -> str:
    """The lake path component for a name: the name itself, once checked (the one mapping).

    Identity on purpose: hive partitioning reads directory values back as column values, so a
    transformed key would change what SQL sees. The name rule makes the value path-safe on its
    own: ASCII letters, digits, '-', '.', '_' only (no separator, no control character, no
    Unicode look-alike), a letter or digit first (no '.', '..' or hidden file), <= 128 chars.
    Distinct names are distinct keys; names that differ only in case would share a directory on
    a case-insensitive filesystem, which `case_collisions` finds and writers refuse.
    """
    return check_name(value, field)


def case_collisions(names: list[str]) -> list[tuple[str, str]]:
    """Pairs of distinct names that are equal ignoring case (one directory on macOS/Windows)."""
    seen: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for name in sorted(set(names)):
        first = seen.setdefault(name.casefold(), name)
        if first != name:
            pairs.append((first, name))
    return pairs


def check_scale(value: str, field: str = "scale", where: str = "") -> str:
    """Return `value` if it is a scale name (`240M`, `1B`, `tiny`, `small`), else raise."""
    if not isinstance(value, str) or not SCALE_PATTERN.fullmatch(value):
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
    """Return `value` if it is a valid run id: a name (NAME_PATTERN).

    Trained runs look like `240M__web70_code30__seed0`; external and imported ones carry real
    model names (`OLMo-2-1B-SFT`). Path separators, spaces and a leading dot are rejected,
    which also blocks path traversal (see `path_key`).
    """
    return check_name(value, field, where)


def check_group(value: str, field: str = "scale", where: str = "") -> str:
    """The `scale` partition key of a run: a scale (`1.4B`) or, for imports, a correlation group.

    Marts correlate across units within one scale; models of different sizes that should be
    compared together share one group name (`--group pythia`) in that key.
    """
    return check_name(value, field, where)


def run_id(scale: str, mixture: str, seed: int) -> str:
    """The id of a trained run: `{scale}__{mixture}__seed{seed}`. Never parsed back."""
    check_scale(scale)
    check_slug(mixture, "mixture")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    return f"{scale}{RUN_ID_SEPARATOR}{mixture}{RUN_ID_SEPARATOR}seed{seed}"
