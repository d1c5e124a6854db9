"""SciQ: a support passage (may be empty), a question, three distractors and the answer.

Used by: xstage ingest benchmarks --benchmark sciq (hub only; not in the offline mirror).
"""

from __future__ import annotations

from typing import Any

from ingest.benchmarks.fields import RawItem, text

CHOICE_FIELDS = ["distractor1", "distractor2", "distractor3", "correct_answer"]


def convert_sciq(row: dict[str, Any]) -> RawItem:
    r"""lm-eval sciq: `{support.lstrip()}\nQuestion: {question}`; the answer is always last."""
    return RawItem(
        fields={"question": text(row, "question")},
        optional={"support": text(row, "support").lstrip()},
        choices=[text(row, name) for name in CHOICE_FIELDS],
        gold=3,
        choice_fields=CHOICE_FIELDS,
    )
