"""One forward pass over packed rows: block mask, restarted positions, LM head only where needed.

Used by: xstage score --backend hf (scoring.backends.hf) and benchmarks/gpu_score_check.py;
needs only torch and a transformers causal LM whose logits are lm_head(last hidden state).
Log-softmax and sums run in fp32/fp64 even for bf16 weights: bf16 log-likelihoods tie choices.
"""

from __future__ import annotations

import contextlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from scoring.batching import PackedRow
from xstage.attention import sdpa_held_to

HEAD_CHUNK_ELEMENTS = 2**27  # fp32 logits per LM-head chunk (512 MB): positions = this // vocab

# SDPA backends the packed forward may use on CUDA (torch.nn.attention.SDPBackend names).
# SDPA's own pick for our masked bf16 batches on sm90 is cuDNN attention, which builds an
# execution plan per new batch shape: ~0.3 s each, so a 1B first pass over 1,024 HellaSwag
# items took 4.7 s vs 1.15 s on seen shapes (H200; BENCHMARKS.md, "GPU" under Scoring). Every
# batch of a scoring run has a new (lines, length) shape. The memory-efficient kernel has no
# per-shape set-up and is as fast on seen shapes (862 vs 881 items/s at 1B, 2,117 vs 2,023 at
# 240M); MATH takes what it rejects. Bucketing shapes instead would add padded work. Elsewhere
# (CPU) torch keeps its own choice.
CUDA_ATTENTION: tuple[str, ...] | None = ("EFFICIENT_ATTENTION", "MATH")


@dataclass(frozen=True)
class ChoiceScore:
    """Raw evidence for one choice: summed log-prob (nats), token count, greedy match."""

    logprob: float
    n_tokens: int
    is_greedy: bool


@dataclass
class Batch:
    """Padded tensors of a group of packed rows."""

    tokens: torch.Tensor
    positions: torch.Tensor
    mask: torch.Tensor
    predict_at: torch.Tensor
    targets: torch.Tensor


def block_mask(items: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """[B, 1, L, L] bool: causal, within one item, choice k > 0 sees its item's prefix and itself.

    Segment 0 is an item's shared prefix. Padding carries item -1 and segment -1, so pad queries attend to earlier pads (never an
    empty row, which would give NaN) and no real token attends to padding.
    """
    length = segments.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=segments.device).tril()
    same_item = items[:, None, :] == items[:, :, None]
    keys, queries = segments[:, None, :], segments[:, :, None]
    visible = same_item & ((keys == queries) | (keys == 0))
    return (visible & causal)[:, None, :, :]


def collate(lines: Sequence[Sequence[PackedRow]], pad_id: int, device: torch.device | str) -> Batch:
    """Lay each line's item rows end to end, right-pad lines, flatten prediction indices.

    Host side: flat Python lists and one tensor per field (a tensor per row took 2/3 of the
    host time). The [B, 1, L, L] mask is built on `device` from the [B, L] item and segment ids.
    """
    length = max(sum(len(row.tokens) for row in line) for line in lines)
    tokens: list[int] = []
    positions: list[int] = []
    segments: list[int] = []
    items: list[int] = []
    predict_at: list[int] = []
    targets: list[int] = []
    for index, line in enumerate(lines):
        offset = index * length
        for item, row in enumerate(line):
            tokens += row.tokens
            positions += row.positions
            segments += row.segments
            items += [item] * len(row.tokens)
            predict_at += [offset + at for at in row.predict_at]
            targets += row.targets
            offset += len(row.tokens)
        pad = (index + 1) * length - offset
        tokens += [pad_id] * pad
        positions += [0] * pad
        segments += [-1] * pad
        items += [-1] * pad

    def grid(values: list[int]) -> torch.Tensor:
        return _long_tensor(values).view(len(lines), length).to(device)

    return Batch(
        tokens=grid(tokens),
        positions=grid(positions),
        mask=block_mask(grid(items), grid(segments)),
        predict_at=_long_tensor(predict_at).to(device),
        targets=_long_tensor(targets).to(device),
    )


def _long_tensor(values: list[int]) -> torch.Tensor:
    """int64 tensor of a list of ints, ~4x faster than torch.tensor (via a C array)."""
    if not values:
        return torch.zeros(0, dtype=torch.long)
    return torch.frombuffer(array("q", values), dtype=torch.long)


def hidden_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype the model computes in (that of its input embedding)."""
    return model.get_input_embeddings().weight.dtype


def attention_backends(
    device: torch.device, backends: Sequence[str] | None = CUDA_ATTENTION
) -> contextlib.AbstractContextManager:
    """SDPA held to `backends` (SDPBackend names) on CUDA; torch's own choice if None or on CPU."""
    return sdpa_held_to(device, backends)


@torch.inference_mode()
def token_logprobs(
    model: torch.nn.Module, batch: Batch, attention: Sequence[str] | None = CUDA_ATTENTION
) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 log-prob of each target token and whether it is the argmax, for one batch.

    `attention`: the SDPA backends allowed on CUDA (see CUDA_ATTENTION; None: torch's choice).
    """
    body, head = model.get_decoder(), model.get_output_embeddings()
    # An additive float mask, converted once per batch rather than by SDPA in every layer.
    mask = torch.zeros(batch.mask.shape, dtype=hidden_dtype(model), device=batch.mask.device)
    mask.masked_fill_(~batch.mask, torch.finfo(mask.dtype).min)
    with attention_backends(batch.tokens.device, attention):
        hidden = body(
            input_ids=batch.tokens,
            attention_mask=mask,
            position_ids=batch.positions,
            use_cache=False,
        ).last_hidden_state
    hidden = hidden.reshape(-1, hidden.shape[-1]).index_select(0, batch.predict_at)
    logprobs, greedy = [], []
    chunk = max(1, HEAD_CHUNK_ELEMENTS // head.weight.shape[0])
    for start in range(0, hidden.shape[0], chunk):
        logits = head(hidden[start : start + chunk]).float()
        target = batch.targets[start : start + chunk]
        target_logits = logits.gather(1, target[:, None])[:, 0]
        logprobs.append(torch.log_softmax(logits, dim=-1).gather(1, target[:, None])[:, 0])
        # greedy = the target reaches the max logit (6x cheaper than argmax on CPU; an exact
        # tie counts as greedy where lm-eval's argmax would pick the lower token id)
        greedy.append(target_logits >= logits.amax(dim=-1))
    return torch.cat(logprobs), torch.cat(greedy)


def score_lines(
    model: torch.nn.Module,
    lines: Sequence[Sequence[PackedRow]],
    pad_id: int,
    device: torch.device | str,
    attention: Sequence[str] | None = CUDA_ATTENTION,
) -> list[list[ChoiceScore]]:
    """ChoiceScores per item row (lines in order, rows in line order) from one forward pass."""
    logprobs, greedy = token_logprobs(model, collate(lines, pad_id, device), attention)
    logprobs, greedy = logprobs.double().cpu().tolist(), greedy.cpu().tolist()
    results, cursor = [], 0
    for row in (row for line in lines for row in line):
        scores = []
        for n_tokens in row.n_targets:
            end = cursor + n_tokens
            scores.append(ChoiceScore(sum(logprobs[cursor:end]), n_tokens, all(greedy[cursor:end])))
            cursor = end
        results.append(scores)
    return results
