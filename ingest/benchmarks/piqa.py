"""PIQA: a goal and two solutions.

Used by: xstage ingest benchmarks --benchmark piqa.
"""

from __future__ import annotations

from typing import Any

from ingest.benchmarks.fields import RawItem, int_label, text


def convert_piqa(row: dict[str, Any]) -> RawItem:
    r"""lm-eval piqa: `Question: {goal}\nAnswer:`, choices sol1/sol2, integer label."""
    return RawItem(
        fields={"goal": text(row, "goal")},
        choices=[text(row, "sol1"), text(row, "sol2")],
        gold=int_label(row, "label", 2),
        choice_fields=["sol1", "sol2"],
    )
