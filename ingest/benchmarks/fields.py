"""Typed access to hub rows for converters: strict text, labels and letters, named errors.

Used by: every converter of xstage ingest benchmarks. A converter returns a RawItem or raises
RowError(field, reason); it never guesses a missing value or relabels an item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class RowError(ValueError):
    """One row is unusable; `field` names the dataset field, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field {field!r}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class RawItem:
    """A converted row before rendering: template fields, answer texts and the gold index."""

    fields: dict[str, str]
    """Template fields that must be non-empty (the question / context parts)."""
    choices: list[str]
    """Answer texts, in dataset order."""
    gold: int
    """Index of the correct answer in `choices`."""
    choice_fields: list[str]
    """Dataset field each choice came from (named in errors)."""
    item_id: str | None = None
    """The dataset's own id, if it has one; else the row position is used."""
    optional: dict[str, str] = field(default_factory=dict)
    """Template fields that may be empty (SciQ's support passage)."""
    choice_contexts: list[str] | None = None
    """Partial scoring (WinoGrande): one context per choice."""
    continuation: str | None = None
    """Partial scoring: the shared continuation, without choice_prefix."""


def text(row: dict[str, Any], name: str) -> str:
    """Row field `name` as a string; missing, null or non-string values raise RowError."""
    if name not in row or row[name] is None:
        raise RowError(name, "missing")
    value = row[name]
    if not isinstance(value, str):
        raise RowError(name, f"expected text, got {type(value).__name__} {value!r}")
    return value


def texts(row: dict[str, Any], name: str) -> list[str]:
    """Row field `name` as a list of strings (each may still be empty; checked later)."""
    if name not in row or row[name] is None:
        raise RowError(name, "missing")
    value = row[name]
    if not isinstance(value, list):
        raise RowError(name, f"expected a list of texts, got {type(value).__name__}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise RowError(f"{name}[{index}]", f"expected text, got {type(item).__name__} {item!r}")
    return value


def integer(row: dict[str, Any], name: str) -> int:
    """Row field `name` as an int (bools, floats and numeric strings are wrong types)."""
    if name not in row or row[name] is None:
        raise RowError(name, "missing")
    value = row[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(name, f"expected an integer, got {type(value).__name__} {value!r}")
    return value


def int_label(row: dict[str, Any], name: str, n_choices: int) -> int:
    """An integer class label in [0, n_choices) (hidden test labels are -1 and fail here)."""
    value = integer(row, name)
    if not 0 <= value < n_choices:
        raise RowError(name, f"label {value} out of range 0..{n_choices - 1}")
    return value


def str_label(row: dict[str, Any], name: str, mapping: dict[str, int]) -> int:
    """A label stored as a string on the hub ('1', '2'; 'A'), mapped through `mapping`."""
    value = text(row, name)
    if value not in mapping:
        raise RowError(name, f"label {value!r} is not one of {sorted(mapping)}")
    return mapping[value]


def struct_choices(row: dict[str, Any], name: str = "choices") -> tuple[list[str], list[str]]:
    """The hub's `choices: {text: [...], label: [...]}` struct as (texts, labels)."""
    value = row.get(name)
    if not isinstance(value, dict):
        raise RowError(name, "missing" if value is None else f"expected a struct, got {value!r}")
    choice_texts = texts({f"{name}.text": value.get("text")}, f"{name}.text")
    labels = texts({f"{name}.label": value.get("label")}, f"{name}.label")
    if len(choice_texts) != len(labels):
        raise RowError(name, f"{len(choice_texts)} texts but {len(labels)} labels")
    return choice_texts, labels


def key_index(row: dict[str, Any], key_field: str, labels: list[str]) -> int:
    """Index of the answer key (e.g. answerKey 'C') among the choice labels."""
    key = text(row, key_field).strip()
    if key not in labels:
        raise RowError(key_field, f"answer key {key!r} is not among the choice labels {labels}")
    return labels.index(key)
