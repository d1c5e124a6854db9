"""The context/continuation boundary rule, formulations and seeded few-shot prompts."""

from __future__ import annotations

import pytest

from scoring.prompts import PromptSpec, build_request, encode_pair, fewshot_prefix, split_boundary


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from tests.scoring.conftest import build_tokenizer

    return build_tokenizer(tmp_path_factory.mktemp("tok"))


def ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize(
    ("context", "continuation", "expected"),
    [
        ("Answer:", " cat", ("Answer:", " cat")),
        ("Answer: ", "cat", ("Answer:", " cat")),
        ("Answer:  ", "cat", ("Answer:", "  cat")),
        ("Answer:\n", " cat", ("Answer:", "\n cat")),
        ("Answer:", "", ("Answer:", "")),
    ],
)
def test_trailing_whitespace_moves_into_the_continuation(context, continuation, expected):
    assert split_boundary(context, continuation) == expected


def test_space_token_stays_with_the_answer(tokenizer):
    # ' cat' is one merged token in the toy BPE; without the rule the pair would tokenise
    # as [..., ' ', 'cat'] and the model would be asked about a lone space.
    assert len(ids(tokenizer, " cat")) == 1
    context_ids, continuation_ids = encode_pair(
        lambda t: ids(tokenizer, t), "the dog sat on ", "cat", 0
    )
    assert context_ids == ids(tokenizer, "the dog sat on")
    assert continuation_ids == ids(tokenizer, " cat")
    assert context_ids + continuation_ids == ids(tokenizer, "the dog sat on cat")


def test_multi_token_choice_is_split_by_the_context_token_count(tokenizer):
    context, continuation = "Q: the bird\nA:", " xylophone quiz"
    context_ids, continuation_ids = encode_pair(
        lambda t: ids(tokenizer, t), context, continuation, 0
    )
    whole = ids(tokenizer, context + continuation)
    assert len(continuation_ids) > 2
    assert context_ids == whole[: len(context_ids)]
    assert continuation_ids == whole[len(context_ids) :]
    assert tokenizer.decode(continuation_ids) == continuation


def test_empty_context_is_scored_after_the_prefix_token(tokenizer):
    context_ids, continuation_ids = encode_pair(lambda t: ids(tokenizer, t), "", " cat", 7)
    assert context_ids == [7]
    assert continuation_ids == ids(tokenizer, " cat")


def item(index, context="Q: x\nA:", choices=("mat", "big hat"), gold=1, **extra):
    return {
        "item_id": f"i{index}",
        "item_hash": f"h{index}",
        "context": context,
        "choices": list(choices),
        "gold_index": gold,
        **extra,
    }


def test_rc_scores_prefix_plus_answer_text_and_keeps_lengths_of_the_text():
    request = build_request(item(0, context="Q: x\nA: "), PromptSpec("rc", " "))
    assert [(c.context, c.continuation, c.answer_text) for c in request.choices] == [
        ("Q: x\nA:", "  mat", "mat"),
        ("Q: x\nA:", "  big hat", "big hat"),
    ]
    assert request.gold_index == 1


def test_mc_scores_letters():
    request = build_request(item(0, choices=("a", "b", "c")), PromptSpec("mc", " "))
    assert [c.continuation for c in request.choices] == [" A", " B", " C"]
    assert [c.answer_text for c in request.choices] == ["A", "B", "C"]


def test_partial_scoring_uses_one_context_per_choice_and_a_shared_continuation():
    row = item(0, choice_contexts=["The cat", "The dog"], continuation=" sat down")
    request = build_request(row, PromptSpec("rc", " "))
    assert [(c.context, c.continuation) for c in request.choices] == [
        ("The cat", " sat down"),
        ("The dog", " sat down"),
    ]
    assert request.choices[0].answer_text == "sat down"


def test_fewshot_is_seeded_excludes_the_item_and_ignores_pool_order():
    pool = [
        item(i, context=f"Q: {i}\nA:", choices=(f"x{i}", f"y{i}"), gold=i % 2) for i in range(10)
    ]
    spec = PromptSpec("rc", " ", n_fewshot=3)
    first = fewshot_prefix(pool[4], pool, spec)
    assert first == fewshot_prefix(pool[4], pool, spec)
    assert first.count("\n\n") == 3
    assert "Q: 4\n" not in first
    shots = first.split("\n\n")[:3]
    for shot in shots:
        index = int(shot.split("Q: ")[1].split("\n")[0])
        assert shot == f"Q: {index}\nA: {'y' if index % 2 else 'x'}{index}"
    assert fewshot_prefix(pool[4], pool, PromptSpec("rc", " ", 3, fewshot_seed=99)) != first
    request = build_request(pool[4], spec, pool)
    assert request.choices[0].context == first + "Q: 4\nA:"


def test_fewshot_needs_enough_examples():
    pool = [item(0), item(1)]
    with pytest.raises(ValueError, match="n_fewshot=2 but only 1"):
        fewshot_prefix(pool[0], pool, PromptSpec("rc", " ", n_fewshot=2))


def test_bad_gold_index_names_the_item():
    with pytest.raises(ValueError, match="item i3: gold_index=5"):
        build_request(item(3, gold=5), PromptSpec())
