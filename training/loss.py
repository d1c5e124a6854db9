"""The training loss: summed next-token cross-entropy in fp32, the LM head taken in chunks.

Used by: training.loop (xstage train / xstage sft) and benchmarks/train_bench.py.

At the paper's vocabulary (100,864) the full (B, S, V) logits of one 8 x 4096 micro-batch are
3.3G values: 6.6 GB in bf16, 13 GB once cast to fp32, and as much again for the log-softmax
and its gradient. `head_loss_sum` never holds more than one chunk of them: for each chunk of
token positions it computes the logits, the fp32 cross-entropy and, at once, its gradients
with respect to the chunk's hidden states and the head's weight (the logits are then dropped);
backward only scales those by the incoming gradient. Same matmuls and the same kernels as the
unchunked loss (no recomputation), so the loss and gradients agree to rounding.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
CHUNK_ELEMENTS = 2**28
"""Logits per chunk (1 GiB in fp32): rows per chunk = this // vocab, at least one."""


def shifted_targets(labels: torch.Tensor) -> torch.Tensor:
    """Position i's target is labels[i + 1]; the last position has none (IGNORE_INDEX).

    The labels are shifted, not the logits: slicing (B, S, V) logits would copy them.
    """
    return F.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)


def token_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Summed next-token cross-entropy of full logits in fp32; IGNORE_INDEX labels carry none."""
    return F.cross_entropy(
        logits.float().view(-1, logits.shape[-1]),
        shifted_targets(labels).reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )


def _chunk(hidden, weight, targets, need_grad: bool):
    """(loss sum, d loss/d hidden, d loss/d weight) of one chunk; grads None if not needed."""
    with torch.enable_grad() if need_grad else torch.no_grad():
        hidden = hidden.detach().requires_grad_(need_grad)
        logits = F.linear(hidden, weight)  # bf16 under autocast, as the model's own head
        loss = F.cross_entropy(logits.float(), targets, ignore_index=IGNORE_INDEX, reduction="sum")
        if not need_grad:
            return loss, None, None
        grad_hidden, grad_weight = torch.autograd.grad(loss, (hidden, weight))
    return loss.detach(), grad_hidden, grad_weight


class _ChunkedHeadLoss(torch.autograd.Function):
    """Loss of F.linear(hidden, weight) chunk by chunk; gradients made in forward, kept."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, rows):
        need_grad = any(ctx.needs_input_grad[:2])
        # one leaf for every chunk, so autocast casts the weight once (its cast cache)
        leaf = weight.detach().requires_grad_(need_grad)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden) if need_grad else None
        grad_weight = None
        for start in range(0, hidden.shape[0], rows):
            end = start + rows
            loss, g_hidden, g_weight = _chunk(
                hidden[start:end], leaf, targets[start:end], need_grad
            )
            total += loss
            if need_grad:
                grad_hidden[start:end] = g_hidden
                grad_weight = g_weight if grad_weight is None else grad_weight.add_(g_weight)
        ctx.save_for_backward(grad_hidden, grad_weight)
        return total

    @staticmethod
    def backward(ctx, grad_output):
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_output, grad_weight * grad_output, None, None


def head_loss_sum(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> torch.Tensor:
    """token_loss_sum(hidden @ weight.T, labels) without the full logits.

    Args:
        hidden: (B, S, d) final hidden states (after the last norm).
        weight: (V, d) LM head (the input embedding, when tied).
        labels: (B, S) token ids, IGNORE_INDEX where no loss is taken.
        chunk_elements: logits per chunk; rows per chunk = chunk_elements // V (at least 1).
    """
    rows = max(1, chunk_elements // weight.shape[0])
    flat = hidden.reshape(-1, hidden.shape[-1])
    targets = shifted_targets(labels).reshape(-1)
    if flat.shape[0] <= rows:  # one chunk (the demo scales): plain autograd, nothing kept
        logits = F.linear(flat, weight).float()
        return F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX, reduction="sum")
    return _ChunkedHeadLoss.apply(flat, weight, targets, rows)


def _passthrough(hidden: torch.Tensor) -> torch.Tensor:
    return hidden


@contextlib.contextmanager
def head_bypassed(model: torch.nn.Module):
    """Within: the model's LM head passes its input through (`.logits` = final hidden states).

    An instance attribute shadows the head's forward (weights, state dict and wrappers are
    untouched); torch.compile traces it without a graph break (output_hidden_states=True would
    break the graph in transformers' output capture).
    """
    head = model.get_output_embeddings()
    assert getattr(head, "bias", None) is None, "the chunked loss assumes a bias-free LM head"
    head.forward = _passthrough
    try:
        yield head
    finally:
        del head.forward


def model_loss_sum(
    model: torch.nn.Module,
    raw_model: torch.nn.Module,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> torch.Tensor:
    """Forward a causal LM and take the chunked loss.

    Args:
        model: what to call: `raw_model` itself or it wrapped (DDP, FSDP, torch.compile).
        raw_model: the unwrapped transformers causal LM (its head is bypassed for the call;
            its weight is read after the forward, where FSDP has unsharded it).
        input_ids: (B, S) token ids.
        labels: (B, S), IGNORE_INDEX where no loss is taken.
        attention_mask: (B, S) or None.
        chunk_elements: logits per chunk of the head.
    """
    with head_bypassed(raw_model) as head:
        hidden = model(input_ids=input_ids, attention_mask=attention_mask).logits
    return head_loss_sum(hidden, head.weight, labels, chunk_elements)
