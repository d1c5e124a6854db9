"""Converters on hub-shaped rows with the quirks the offline mirror does not show."""

from __future__ import annotations

import pytest

from ingest.benchmarks import CONVERTERS, get_converter
from ingest.benchmarks.fields import RowError
from ingest.benchmarks.hellaswag import convert_hellaswag, preprocess
from ingest.benchmarks.super_glue import convert_copa, convert_multirc, general_detokenize


def test_arc_numeric_labels_on_the_hub_map_by_position():
    row = {
        "id": "Mercury_1",
        "question": "Q?",
        "choices": {"text": ["a", "b", "c", "d"], "label": ["1", "2", "3", "4"]},
        "answerKey": "3",
    }
    item = get_converter("arc")(row)
    assert item.gold == 2
    assert item.item_id == "Mercury_1"


def test_hellaswag_wikihow_markup_is_removed_as_lm_eval_does():
    assert (
        preprocess(" [header] How to tie a tie [title] Cross the ends.  [step] Pull.")
        == " How to tie a tie. Cross the ends.  Pull."  # lm-eval's exact output (one '  ' pass)
    )
    row = {
        "ind": 4,
        "activity_label": "Health",
        "ctx_a": "A man stands.",
        "ctx_b": "then he",
        "endings": ["a", "b", "c", "d"],
        "label": "2",
    }
    item = convert_hellaswag(row)
    assert item.fields["query"] == "Health: A man stands. Then he"
    assert item.gold == 2


def test_copa_connectors_and_lowercased_choices():
    row = {
        "premise": "My body cast a shadow over the grass.",
        "choice1": "The sun was rising.",
        "choice2": "The grass was cut.",
        "question": "cause",
        "idx": 0,
        "label": 0,
    }
    item = convert_copa(row)
    assert item.fields["premise_connective"] == "My body cast a shadow over the grass because"
    assert item.choices == ["the sun was rising.", "the grass was cut."]
    with pytest.raises(RowError, match="expected 'cause' or 'effect'"):
        convert_copa({**row, "question": "reason"})


def test_multirc_items_are_keyed_by_paragraph_question_answer():
    row = {
        "paragraph": "P.",
        "question": "Q?",
        "answer": "A",
        "idx": {"paragraph": 0, "question": 1, "answer": 2},
        "label": 1,
    }
    item = convert_multirc(row)
    assert item.item_id == "0-1-2"
    assert item.choices == ["A\nIs the answer correct? no", "A\nIs the answer correct? yes"]
    assert item.gold == 1


def test_general_detokenize_matches_lm_eval():
    assert (
        general_detokenize('He said " yes " ( really ) , did n\'t he .')
        == 'He said"yes"(really), didn\'t he.'
    )


def test_every_registered_converter_imports():
    for name in CONVERTERS:
        assert callable(get_converter(name))
    with pytest.raises(ValueError, match="not registered"):
        get_converter("nope")
