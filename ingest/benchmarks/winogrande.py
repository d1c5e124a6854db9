"""WinoGrande: a sentence with a blank '_' and two options, scored by partial evaluation.

Used by: xstage ingest benchmarks --benchmark winogrande.
"""

from __future__ import annotations

from typing import Any

from ingest.benchmarks.fields import RawItem, RowError, str_label, text


def convert_winogrande(row: dict[str, Any]) -> RawItem:
    """lm-eval winogrande partial scoring: one context per option, one shared continuation.

    Choice k's context is the sentence up to '_' with option k filled in; the continuation is the rest of the sentence after '_', stripped (the scorer puts
    choice_prefix ' ' before it, as lm-eval's target_delimiter does).
    """
    sentence = text(row, "sentence")
    if sentence.count("_") != 1:
        raise RowError("sentence", f"expected exactly one '_' blank, found {sentence.count('_')}")
    blank = sentence.index("_")
    options = [text(row, "option1"), text(row, "option2")]
    return RawItem(
        fields={"sentence": sentence},
        choices=options,
        gold=str_label(row, "answer", {"1": 0, "2": 1}),
        choice_fields=["option1", "option2"],
        choice_contexts=[sentence[:blank] + option for option in options],
        continuation=sentence[blank + 1 :].strip(),
    )
