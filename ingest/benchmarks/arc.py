"""ARC, OpenBookQA and CommonsenseQA: a question plus a `choices {text, label}` struct.

Used by: xstage ingest benchmarks --benchmark arc_easy|arc_challenge|openbookqa|commonsense_qa.
"""

from __future__ import annotations

from typing import Any

from ingest.benchmarks.fields import RawItem, key_index, struct_choices, text


def _lettered(row: dict[str, Any], question_field: str) -> RawItem:
    choices, labels = struct_choices(row)
    return RawItem(
        fields={question_field: text(row, question_field)},
        choices=choices,
        gold=key_index(row, "answerKey", labels),
        choice_fields=[f"choices.text[{index}]" for index in range(len(choices))],
        item_id=text(row, "id"),
    )


def convert_arc(row: dict[str, Any]) -> RawItem:
    """lm-eval arc_easy/arc_challenge: `Question: {question}`; gold = answerKey among labels.

    The hub labels a few items '1'-'4' instead of 'A'-'D'; looking the key up in the item's own
    label list handles both.
    """
    return _lettered(row, "question")


def convert_openbookqa(row: dict[str, Any]) -> RawItem:
    """lm-eval openbookqa: the bare `question_stem`; gold = answerKey among labels."""
    return _lettered(row, "question_stem")


def convert_commonsense_qa(row: dict[str, Any]) -> RawItem:
    """CommonsenseQA: question and five labelled choices A-E."""
    return _lettered(row, "question")
