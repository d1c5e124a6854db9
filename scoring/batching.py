"""Token ids per choice, shared-context packing and length-sorted batches (DESIGN §5).

Used by: xstage score (HF and vLLM backends) and benchmarks/gpu_score_check.py; needs only the
standard library, so the GPU script can import it on a bare torch + transformers machine.

Packing: the choices of one item share their longest common input prefix (the question, for
rc/mc items), laid out once; each choice's remaining input tokens follow as their own segment.
A segment sees the shared prefix and itself, never another segment, and its position ids
restart where the prefix ends, so every choice is computed as if it were alone in the row.
Several short items may share one line of a batch, each item blind to the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scoring.prompts import encode_pair


@dataclass(frozen=True)
class EncodedChoice:
    """One choice as token ids: log P(continuation | context)."""

    context: tuple[int, ...]
    continuation: tuple[int, ...]

    @property
    def inputs(self) -> tuple[int, ...]:
        """What the model reads: context + continuation minus the last token."""
        return (self.context + self.continuation)[:-1]


@dataclass(frozen=True)
class PackedRow:
    """One model input row holding one item (or one choice, for the per-choice layout).

    `predict_at[j]` is the row index whose next-token distribution gives `targets[j]`;
    `n_targets[k]` is how many of those belong to choice k (targets are grouped by choice).
    """

    tokens: tuple[int, ...]
    positions: tuple[int, ...]
    segments: tuple[int, ...]
    predict_at: tuple[int, ...]
    targets: tuple[int, ...]
    n_targets: tuple[int, ...]


def truncate_choice(context: list[int], continuation: list[int], max_length: int) -> EncodedChoice:
    """Keep the last `max_length + 1` tokens of context + continuation (lm-eval's left cut)."""
    if len(continuation) > max_length:
        raise ValueError(
            f"continuation of {len(continuation)} tokens exceeds max_length {max_length}"
        )
    overflow = len(context) + len(continuation) - (max_length + 1)
    if overflow > 0:
        context = context[overflow:]
    return EncodedChoice(tuple(context), tuple(continuation))


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix shared by every sequence."""
    shortest = min(len(sequence) for sequence in sequences)
    for index in range(shortest):
        token = sequences[0][index]
        if any(sequence[index] != token for sequence in sequences):
            return index
    return shortest


def pack_item(choices: Sequence[EncodedChoice]) -> PackedRow:
    """Lay out one item's choices as [shared prefix, suffix_1, ..., suffix_K] (segment ids 0..K)."""
    inputs = [choice.inputs for choice in choices]
    shared = common_prefix_length(inputs) if len(inputs) > 1 else len(inputs[0])
    tokens = list(inputs[0][:shared])
    positions = list(range(shared))
    segments = [0] * shared
    predict_at: list[int] = []
    targets: list[int] = []
    for k, (choice, row_input) in enumerate(zip(choices, inputs, strict=True)):
        offset = len(tokens)
        suffix = row_input[shared:]
        tokens.extend(suffix)
        positions.extend(range(shared, shared + len(suffix)))
        segments.extend([k + 1] * len(suffix))
        first = len(choice.context) - 1  # the context's last token predicts the first answer token
        for position in range(first, first + len(choice.continuation)):
            predict_at.append(position if position < shared else offset + position - shared)
        targets.extend(choice.continuation)
    n_targets = tuple(len(choice.continuation) for choice in choices)
    return PackedRow(
        tuple(tokens),
        tuple(positions),
        tuple(segments),
        tuple(predict_at),
        tuple(targets),
        n_targets,
    )


def pack_items(items: Sequence[Sequence[EncodedChoice]], shared_context: bool) -> list[PackedRow]:
    """One row per item (shared context) or one row per choice (the naive layout)."""
    if shared_context:
        return [pack_item(choices) for choices in items]
    return [pack_item([choice]) for choices in items for choice in choices]


def plan_batches(rows: Sequence[PackedRow], batch_tokens: int) -> list[list[list[int]]]:
    """Group item rows into batches of lines: batch -> lines -> row indices.

    Rows go longest first (an out-of-memory error shows on the first batch, as in lm-eval).
    A batch's line length is its longest row; shorter rows share a line first-fit, each
    behind its own mask and positions, so padding stays small without making lines (and the
    attention cost) longer than the longest row. Lines x line length <= batch_tokens, except
    that a batch always takes at least one line.
    """
    order = sorted(range(len(rows)), key=lambda index: (-len(rows[index].tokens), index))
    batches: list[list[list[int]]] = []
    lines: list[list[int]] = []
    free: list[int] = []
    capacity = 0
    for index in order:
        size = len(rows[index].tokens)
        slot = next((line for line, space in enumerate(free) if space >= size), None)
        if slot is None and lines and (len(lines) + 1) * capacity > batch_tokens:
            batches.append(lines)
            lines, free = [], []
        if slot is None:
            capacity = capacity if lines else size
            lines.append([index])
            free.append(capacity - size)
        else:
            lines[slot].append(index)
            free[slot] -= size
    if lines:
        batches.append(lines)
    return batches


def encode_choices(
    pairs: Sequence[Sequence[tuple[str, str]]],
    encode_batch: Callable[[list[str]], list[list[int]]],
    prefix_token: int,
    max_length: int,
) -> list[list[EncodedChoice]]:
    """Token ids for (context, continuation) pairs per item, by lm-eval's split rule.

    `encode_batch` tokenises many strings in one call (fast tokenizers parallelise it); the
    pairs must already have had the boundary rule applied (scoring.prompts.split_boundary).
    """
    texts = sorted({text for item in pairs for c, r in item for text in (c, c + r, r)})
    ids = dict(zip(texts, encode_batch(texts), strict=True))

    def lookup(text: str) -> list[int]:
        return list(ids[text])

    encoded = []
    for item in pairs:
        choices = []
        for context, continuation in item:
            context_ids, continuation_ids = encode_pair(lookup, context, continuation, prefix_token)
            choices.append(truncate_choice(context_ids, continuation_ids, max_length))
        encoded.append(choices)
    return encoded
