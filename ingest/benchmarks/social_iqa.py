"""Social IQa: context, question and three answers; the label is the string '1'..'3'.

Used by: xstage ingest benchmarks --benchmark social_iqa.
"""

from __future__ import annotations

from typing import Any

from ingest.benchmarks.fields import RawItem, str_label, text

CHOICE_FIELDS = ["answerA", "answerB", "answerC"]


def convert_social_iqa(row: dict[str, Any]) -> RawItem:
    r"""lm-eval siqa: `Q: {context} {question}\nA:`; label '1'-'3' -> 0-2."""
    return RawItem(
        fields={"context": text(row, "context"), "question": text(row, "question")},
        choices=[text(row, name) for name in CHOICE_FIELDS],
        gold=str_label(row, "label", {"1": 0, "2": 1, "3": 2}),
        choice_fields=CHOICE_FIELDS,
    )
