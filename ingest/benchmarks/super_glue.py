"""SuperGLUE tasks (aps/super_glue): BoolQ, CB, RTE, WiC, WSC, COPA, MultiRC in lm-eval's form.

Used by: xstage ingest benchmarks --benchmark boolq|cb|rte|wic|wsc|copa|multirc.
Labels are ClassLabel ints on the hub; `idx` is the item id (MultiRC: a struct of three ids).
"""

from __future__ import annotations

import re
from typing import Any

from ingest.benchmarks.fields import RawItem, RowError, int_label, integer, text

NO_YES = ["no", "yes"]


def _binary(row: dict[str, Any], fields: list[str], choices: list[str]) -> RawItem:
    return RawItem(
        fields={name: text(row, name) for name in fields},
        choices=list(choices),
        gold=int_label(row, "label", len(choices)),
        choice_fields=["label names"] * len(choices),
        item_id=str(integer(row, "idx")),
    )


def convert_boolq(row: dict[str, Any]) -> RawItem:
    r"""`{passage}\nQuestion: {question}?\nAnswer:`, choices no/yes (label 1 = true)."""
    return _binary(row, ["passage", "question"], NO_YES)


def convert_cb(row: dict[str, Any]) -> RawItem:
    """Choices True/False/Neither = labels entailment/contradiction/neutral."""
    return _binary(row, ["premise", "hypothesis"], ["True", "False", "Neither"])


def convert_rte(row: dict[str, Any]) -> RawItem:
    """Choices True/False = labels entailment/not_entailment."""
    return _binary(row, ["premise", "hypothesis"], ["True", "False"])


def convert_wic(row: dict[str, Any]) -> RawItem:
    """Adds `word_in_context` = sentence1[start1:end1] (the word as it appears), choices no/yes."""
    item = _binary(row, ["sentence1", "sentence2", "word"], NO_YES)
    sentence1 = item.fields["sentence1"]
    start, end = integer(row, "start1"), integer(row, "end1")
    if not 0 <= start < end <= len(sentence1):
        raise RowError(
            "start1", f"span {start}:{end} is outside sentence1 ({len(sentence1)} chars)"
        )
    item.fields["word_in_context"] = sentence1[start:end]
    return item


def general_detokenize(value: str) -> str:
    """lm-eval's `general_detokenize` (used by its WSC prompt)."""
    value = value.replace(" n't", "n't").replace(" )", ")").replace("( ", "(")
    value = value.replace('" ', '"').replace(' "', '"')
    return re.sub(r" (['.,])", r"\1", value)


def convert_wsc(row: dict[str, Any]) -> RawItem:
    """lm-eval wsc: the pronoun (word index span2_index) is starred in the passage."""
    raw = text(row, "text")
    pronoun, noun = text(row, "span2_text"), text(row, "span1_text")
    index = integer(row, "span2_index")
    words = raw.split()
    if not 0 <= index < len(words):
        raise RowError("span2_index", f"word index {index} outside the {len(words)}-word text")
    pre = " ".join(words[:index])
    post = raw[len(pre) + len(pronoun) + 1 :]
    passage = general_detokenize(pre + f" *{pronoun}*" + post)
    item = _binary(row, [], NO_YES)
    return RawItem(
        fields={"passage": passage, "pronoun": pronoun, "noun": noun},
        choices=item.choices,
        gold=item.gold,
        choice_fields=item.choice_fields,
        item_id=item.item_id,
    )


def convert_copa(row: dict[str, Any]) -> RawItem:
    """lm-eval copa: premise minus its final char + ' because'/' therefore'; choices lower-first."""
    connector = {"cause": "because", "effect": "therefore"}.get(text(row, "question"))
    if connector is None:
        raise RowError("question", f"expected 'cause' or 'effect', got {row['question']!r}")
    premise = text(row, "premise").strip()
    if not premise:
        raise RowError("premise", "empty text")
    choices = [text(row, "choice1"), text(row, "choice2")]
    return RawItem(
        fields={"premise_connective": premise[:-1] + f" {connector}"},
        choices=[choice[:1].lower() + choice[1:] for choice in choices],
        gold=int_label(row, "label", 2),
        choice_fields=["choice1", "choice2"],
        item_id=str(integer(row, "idx")),
    )


def convert_multirc(row: dict[str, Any]) -> RawItem:
    """One item per (question, candidate answer): is `answer` correct? no/yes (label 1 = yes)."""
    idx = row.get("idx")
    if not isinstance(idx, dict):
        raise RowError("idx", f"expected a struct of paragraph/question/answer ids, got {idx!r}")
    ids = [integer(idx, key) for key in ("paragraph", "question", "answer")]
    answer = text(row, "answer")
    return RawItem(
        fields={"paragraph": text(row, "paragraph"), "question": text(row, "question")},
        choices=[f"{answer}\nIs the answer correct? {word}" for word in NO_YES],
        gold=int_label(row, "label", 2),
        choice_fields=["answer", "answer"],
        item_id="-".join(str(value) for value in ids),
    )
