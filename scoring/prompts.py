"""Turn benchmark items into (context, continuation) requests, one per choice (DESIGN §5).

Used by: xstage score --run RUN_ID --stage pretrain|sft (and score_run for the study runner).
Formulations: `rc` scores choice_prefix + answer text, `mc` scores choice_prefix + letter
(" A", " B", ...), partial-scoring items (WinoGrande) score the shared continuation after each
choice's own context. k-shot examples are drawn with a fixed seed per item. The boundary rule
and the token split are lm-eval-harness's, so numbers are comparable.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

FEWSHOT_DELIMITER = "\n\n"
FEWSHOT_SEED = 1234
LETTERS = string.ascii_uppercase


@dataclass(frozen=True)
class PromptSpec:
    """How a benchmark poses its items (the scoring-relevant part of a BenchmarkConfig)."""

    formulation: str = "rc"
    choice_prefix: str = " "
    n_fewshot: int = 0
    fewshot_seed: int = FEWSHOT_SEED


@dataclass(frozen=True)
class ChoiceRequest:
    """One choice to score: log P(continuation | context), after the boundary rule.

    `answer_text` is what length normalisation divides by: the choice text without the
    target delimiter (lm-eval's acc_norm uses len(choice), not len(" " + choice)).
    """

    context: str
    continuation: str
    answer_text: str


@dataclass(frozen=True)
class ItemRequest:
    """Every choice of one benchmark item, in choice order."""

    item_id: str
    gold_index: int
    choices: tuple[ChoiceRequest, ...]


def split_boundary(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the front of the continuation (lm-eval rule)."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces == 0:
        return context, continuation
    return context[:-n_spaces], context[-n_spaces:] + continuation


def encode_pair(
    encode: Callable[[str], list[int]], context: str, continuation: str, prefix_token: int
) -> tuple[list[int], list[int]]:
    """Token ids of (context, continuation): encode both together, split at len(encode(context)).

    Same as lm-eval's `_encode_pair`, so a space merged into the first answer token stays with
    the answer. An empty context becomes `[prefix_token]` (BOS, else EOS), as in lm-eval.
    """
    context, continuation = split_boundary(context, continuation)
    if context == "":
        return [prefix_token], encode(continuation)
    whole = encode(context + continuation)
    context_ids = encode(context)
    continuation_ids = whole[len(context_ids) :]
    if not continuation_ids:
        # The pair merged into no more tokens than the context alone (lm-eval would score an
        # empty continuation); score the continuation's own tokens instead.
        continuation_ids = encode(continuation)
    return context_ids, continuation_ids


def _choice_texts(item: dict, spec: PromptSpec) -> list[tuple[str, str]]:
    """(continuation, answer_text) per choice for an rc or mc item."""
    if spec.formulation == "mc":
        letters = LETTERS[: len(item["choices"])]
        return [(spec.choice_prefix + letter, letter) for letter in letters]
    if spec.formulation != "rc":
        raise ValueError(f"formulation={spec.formulation!r} must be rc or mc")
    return [(spec.choice_prefix + text, text) for text in item["choices"]]


def _pairs(item: dict, spec: PromptSpec) -> list[tuple[str, str, str]]:
    """(context, continuation, answer_text) per choice, before few-shot and boundary rule."""
    if item.get("choice_contexts"):
        continuation = item["continuation"]
        if continuation is None:
            raise ValueError(f"item {item['item_id']}: choice_contexts without a continuation")
        answer = continuation.lstrip()
        return [(context, continuation, answer) for context in item["choice_contexts"]]
    return [(item["context"], cont, answer) for cont, answer in _choice_texts(item, spec)]


def render_example(item: dict, spec: PromptSpec) -> str:
    """A solved item for the few-shot prefix: its gold context + gold continuation."""
    context, continuation, _ = _pairs(item, spec)[item["gold_index"]]
    return context + continuation


def fewshot_prefix(item: dict, pool: Sequence[dict], spec: PromptSpec) -> str:
    """`n_fewshot` solved examples from `pool` (never the item itself), seeded per item.

    The draw depends only on the seed, the item's hash and the pool, so it does not change
    when `--limit` picks a different sample of items to score.
    """
    if spec.n_fewshot == 0:
        return ""
    candidates = [other for other in pool if other["item_id"] != item["item_id"]]
    if len(candidates) < spec.n_fewshot:
        raise ValueError(
            f"item {item['item_id']}: n_fewshot={spec.n_fewshot} but only "
            f"{len(candidates)} few-shot examples are available"
        )
    rng = random.Random(f"{spec.fewshot_seed}:{item['item_hash']}")
    shots = rng.sample(candidates, spec.n_fewshot)
    return "".join(render_example(shot, spec) + FEWSHOT_DELIMITER for shot in shots)


def build_request(item: dict, spec: PromptSpec, pool: Sequence[dict] = ()) -> ItemRequest:
    """The scoring request of one benchmark_items row (a dict with the lake's columns)."""
    prefix = fewshot_prefix(item, pool, spec)
    choices = []
    for context, continuation, answer in _pairs(item, spec):
        context, continuation = split_boundary(prefix + context, continuation)
        choices.append(ChoiceRequest(context, continuation, answer))
    gold = int(item["gold_index"])
    if not 0 <= gold < len(choices):
        raise ValueError(f"item {item['item_id']}: gold_index={gold} outside 0..{len(choices) - 1}")
    return ItemRequest(str(item["item_id"]), gold, tuple(choices))


def build_requests(
    items: Sequence[dict], spec: PromptSpec, pool: Sequence[dict] = ()
) -> list[ItemRequest]:
    """Requests for every item, in input order."""
    return [build_request(item, spec, pool) for item in items]


def unconditional_pairs(request: ItemRequest) -> list[tuple[str, str]]:
    """(empty context, answer text) per choice: the request behind `logprob_uncond`.

    log P(answer | BOS alone), lm-eval's `acc_mutual_info` request (it too scores the bare
    choice, without the target delimiter); the `pmi` normalization is logprob - logprob_uncond.
    """
    return [("", choice.answer_text) for choice in request.choices]
