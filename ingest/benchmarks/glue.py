"""GLUE tasks (nyu-mll/glue): QNLI, MNLI, QQP, MRPC in lm-eval's form.

Used by: xstage ingest benchmarks --benchmark qnli|mnli|qqp|mrpc. Labels are ClassLabel ints;
`idx` is the item id (in the mirror's MNLI/QQP samples it is not GLUE's own idx: see MANIFEST).
"""

from __future__ import annotations

from typing import Any

from ingest.benchmarks.fields import RawItem, int_label, integer, text


def _pair(row: dict[str, Any], fields: dict[str, str], choices: list[str]) -> RawItem:
    return RawItem(
        fields=fields,
        choices=choices,
        gold=int_label(row, "label", len(choices)),
        choice_fields=["label names"] * len(choices),
        item_id=str(integer(row, "idx")),
    )


def convert_qnli(row: dict[str, Any]) -> RawItem:
    """Choices yes/no = labels entailment/not_entailment."""
    fields = {"question": text(row, "question"), "sentence": text(row, "sentence")}
    return _pair(row, fields, ["yes", "no"])


def convert_mnli(row: dict[str, Any]) -> RawItem:
    """lm-eval mnli: hypothesis stripped and ended with '.'; True/Neither/False = labels 0/1/2."""
    hypothesis = text(row, "hypothesis").strip()
    if hypothesis and not hypothesis.endswith("."):
        hypothesis += "."
    fields = {"premise": text(row, "premise"), "hypothesis": hypothesis}
    return _pair(row, fields, ["True", "Neither", "False"])


def convert_qqp(row: dict[str, Any]) -> RawItem:
    """Choices no/yes = labels not_duplicate/duplicate."""
    fields = {"question1": text(row, "question1"), "question2": text(row, "question2")}
    return _pair(row, fields, ["no", "yes"])


def convert_mrpc(row: dict[str, Any]) -> RawItem:
    """Choices no/yes = labels not_equivalent/equivalent."""
    fields = {"sentence1": text(row, "sentence1"), "sentence2": text(row, "sentence2")}
    return _pair(row, fields, ["no", "yes"])
