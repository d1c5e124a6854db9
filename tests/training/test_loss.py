"""Chunked LM-head loss (training.loss) vs the full-logits loss: same value, same gradients."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from training.loss import IGNORE_INDEX, head_loss_sum, model_loss_sum, token_loss_sum


def _model(tied: bool) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=257,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        head_dim=16,
        tie_word_embeddings=tied,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # an untrained head's grads are tiny; make them count
        model.get_output_embeddings().weight.normal_(0, 0.5)
    return model


def _batch():
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, 257, (3, 11), generator=generator)
    labels = input_ids.clone()
    labels[0, :4] = IGNORE_INDEX  # a prompt without loss (SFT)
    labels[2, 8:] = IGNORE_INDEX  # padding
    mask = torch.ones_like(input_ids)
    mask[2, 8:] = 0
    return input_ids, labels, mask


def _grads(model) -> dict[str, torch.Tensor]:
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return grads


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("chunk_elements", [257 * 5, 257 * 64, 1])  # ragged, one chunk, 1 row
def test_chunked_loss_and_grads_equal_full_logits(tied: bool, chunk_elements: int) -> None:
    model = _model(tied)
    input_ids, labels, mask = _batch()
    full = token_loss_sum(model(input_ids=input_ids, attention_mask=mask).logits, labels)
    (full * 0.37).backward()
    expected = _grads(model)
    chunked = model_loss_sum(model, model, input_ids, labels, mask, chunk_elements)
    (chunked * 0.37).backward()
    got = _grads(model)
    assert chunked.dtype == torch.float32
    assert float(chunked.detach()) == pytest.approx(float(full.detach()), rel=1e-6)
    # by hand: the loss counts exactly the labelled next tokens
    n_targets = int((labels[:, 1:] != IGNORE_INDEX).sum())
    assert n_targets == 3 * 10 - 3 - 3
    assert set(got) == set(expected)
    for name, grad in expected.items():
        # fp32 sums in another order (per chunk): rounding of ~1e-7 of the largest entry
        atol = 1e-6 * float(grad.abs().max())
        torch.testing.assert_close(got[name], grad, rtol=1e-5, atol=atol, msg=name)
    assert expected["lm_head.weight" if not tied else "model.embed_tokens.weight"].abs().sum() > 0


def test_head_loss_sum_without_grad_and_all_ignored() -> None:
    torch.manual_seed(0)
    hidden, weight = torch.randn(2, 5, 8), torch.randn(13, 8)
    labels = torch.randint(0, 13, (2, 5))
    with torch.no_grad():
        got = head_loss_sum(hidden, weight, labels, chunk_elements=13 * 3)
    assert float(got) == pytest.approx(float(token_loss_sum(hidden @ weight.T, labels)), rel=1e-6)
    ignored = torch.full((2, 5), IGNORE_INDEX)
    assert float(head_loss_sum(hidden, weight, ignored)) == 0.0


@pytest.mark.parametrize("tied", [True, False])
def test_chunked_loss_under_bf16_autocast_matches_to_bf16_rounding(tied: bool) -> None:
    """The GPU recipe's setting: bf16 head matmuls, fp32 softmax, several chunks."""
    model = _model(tied)
    input_ids, labels, mask = _batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        full = token_loss_sum(model(input_ids=input_ids, attention_mask=mask).logits, labels)
    full.backward()
    expected = _grads(model)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        chunked = model_loss_sum(model, model, input_ids, labels, mask, 257 * 5)
    chunked.backward()
    got = _grads(model)
    assert chunked.dtype == torch.float32
    assert float(chunked.detach()) == pytest.approx(float(full.detach()), rel=1e-5)
    for name, grad in expected.items():
        # the head's bf16 GEMM rounds per chunk instead of once: ~bf16 epsilon of the largest
        torch.testing.assert_close(
            got[name], grad, rtol=0, atol=2e-2 * float(grad.abs().max()), msg=name
        )
