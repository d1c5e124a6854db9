"""HellaSwag: activity label + context, four endings; lm-eval's text preprocessing.

Used by: xstage ingest benchmarks --benchmark hellaswag.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.benchmarks.fields import RawItem, RowError, integer, str_label, text, texts


def preprocess(value: str) -> str:
    """lm-eval hellaswag `preprocess`: strip, ' [title]' -> '. ', drop [markup], fix '  '."""
    value = value.strip()
    value = value.replace(" [title]", ". ")
    value = re.sub(r"\[.*?\]", "", value)
    return value.replace("  ", " ")


def convert_hellaswag(row: dict[str, Any]) -> RawItem:
    """Query = preprocess(activity_label + ': ' + ctx_a + ' ' + ctx_b.capitalize())."""
    ctx_a, ctx_b = text(row, "ctx_a"), text(row, "ctx_b")
    if not (ctx_a + ctx_b).strip():
        raise RowError("ctx_a", "empty context")
    endings = texts(row, "endings")
    query = preprocess(text(row, "activity_label") + ": " + ctx_a + " " + ctx_b.capitalize())
    return RawItem(
        fields={"query": query},
        choices=[preprocess(ending) for ending in endings],
        gold=str_label(row, "label", {str(index): index for index in range(len(endings))}),
        choice_fields=[f"endings[{index}]" for index in range(len(endings))],
        item_id=str(integer(row, "ind")),
    )
