"""HF backend exactness (fp32): packed shared-context rows and every batch size equal an
unbatched one-row-per-choice reference within 1e-4; OOM back-off; model-dir errors."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from scoring.backends.base import ModelDirError
from scoring.backends.hf import HFBackend
from scoring.batching import pack_items, plan_batches
from scoring.prompts import PromptSpec, build_requests
from tests.scoring.conftest import toy_items

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return HFBackend(tiny_model_dir, dtype="float32")


@pytest.fixture(scope="module")
def encoded(backend):
    """Toy rc (trailing spaces), mc, few-shot and partial-scoring items, 2-4 choices each."""
    specs = {
        "toy_rc": PromptSpec("rc"),
        "toy_mc": PromptSpec("mc"),
        "toy_partial": PromptSpec("rc"),
        "toy_fewshot": PromptSpec("rc", n_fewshot=2),
    }
    items = []
    for name, spec in specs.items():
        rows = toy_items(name, 8)
        requests = build_requests(rows, spec, rows)
        items += backend.encode(
            [[(c.context, c.continuation) for c in r.choices] for r in requests]
        )
    return items


def reference(model, items):
    """lm-eval's way: each choice alone in its own row, full log-softmax, no batching."""
    out = []
    with torch.inference_mode():
        for choices in items:
            scores = []
            for choice in choices:
                full = torch.tensor([choice.context + choice.continuation])
                logits = model(full).logits[0, len(choice.context) - 1 : -1].float()
                target = torch.tensor(choice.continuation)
                logprobs = torch.log_softmax(logits, -1)[torch.arange(len(target)), target]
                greedy = bool((logits.argmax(-1) == target).all())
                scores.append((float(logprobs.double().sum()), len(target), greedy))
            out.append(scores)
    return out


def assert_close(scores, expected):
    assert len(scores) == len(expected)
    for got_item, want_item in zip(scores, expected, strict=True):
        assert len(got_item) == len(want_item)
        for got, (logprob, n_tokens, greedy) in zip(got_item, want_item, strict=True):
            assert got.logprob == pytest.approx(logprob, abs=TOLERANCE)
            assert (got.n_tokens, got.is_greedy) == (n_tokens, greedy)


@pytest.mark.parametrize("shared_context", [True, False])
@pytest.mark.parametrize("batch_tokens", [1, 48, 200, 100_000])
def test_packed_scores_equal_the_unbatched_reference(
    backend, encoded, shared_context, batch_tokens
):
    expected = reference(backend.model, encoded)
    backend.shared_context, backend.batch_tokens = shared_context, batch_tokens
    assert_close(backend.score(encoded), expected)


def test_the_math_kernel_cuda_falls_back_to_takes_our_block_mask_exactly(backend, encoded):
    """CUDA_ATTENTION is (efficient, math); only math runs on CPU, so check it here."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    expected = reference(backend.model, encoded)
    backend.shared_context, backend.batch_tokens = True, 200
    with sdpa_kernel([SDPBackend.MATH]):
        scores = backend.score(encoded)
    assert_close(scores, expected)


def test_the_toy_items_exercise_multi_token_choices_shared_lines_and_real_logprobs(
    encoded, backend
):
    lines = [line for batch in plan_batches(pack_items(encoded, True), 100_000) for line in batch]
    assert max(len(line) for line in lines) >= 2  # short items share the longest row's line length
    n_tokens = [len(choice.continuation) for choices in encoded for choice in choices]
    assert max(n_tokens) >= 3
    assert len({len(choices) for choices in encoded}) >= 2
    backend.shared_context, backend.batch_tokens = True, 4096
    logprobs = [s.logprob for item in backend.score(encoded) for s in item]
    assert all(lp < 0 for lp in logprobs)
    assert max(logprobs) - min(logprobs) > 1.0  # the random model is far from uniform


def test_out_of_memory_halves_the_budget_and_retries(tiny_model_dir, encoded):
    backend = HFBackend(tiny_model_dir, dtype="float32", batch_tokens=100_000)
    expected = reference(backend.model, encoded)

    def refuse_big_batches(module, args, kwargs):
        if kwargs["input_ids"].shape[0] > 3:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated by a forward hook)")

    handle = backend.model.get_decoder().register_forward_pre_hook(
        refuse_big_batches, with_kwargs=True
    )
    try:
        assert_close(backend.score(encoded), expected)
    finally:
        handle.remove()
    assert backend.batch_tokens < 100_000


def test_bf16_weights_still_give_fp32_softmax_sums(tiny_model_dir, encoded):
    backend = HFBackend(tiny_model_dir, dtype="bfloat16")
    assert backend.dtype == "bfloat16"
    reference_fp32 = reference(HFBackend(tiny_model_dir, dtype="float32").model, encoded[:6])
    scores = backend.score(encoded[:6])
    for got_item, want_item in zip(scores, reference_fp32, strict=True):
        for got, (logprob, _, _) in zip(got_item, want_item, strict=True):
            assert isinstance(got.logprob, float)
            assert got.logprob == pytest.approx(logprob, abs=0.05 * max(1.0, abs(logprob)))


def test_missing_model_dir_is_one_clear_error(tmp_path):
    with pytest.raises(ModelDirError, match="does not exist"):
        HFBackend(tmp_path / "nope")


def test_model_dir_without_tokenizer_is_one_clear_error(tiny_model_dir, tmp_path):
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model_dir / name, copy / name)
    with pytest.raises(ModelDirError, match="no tokenizer"):
        HFBackend(copy)


def test_unreadable_config_is_one_clear_error(tiny_model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    (copy / "config.json").write_text("{not json")
    with pytest.raises(ModelDirError, match=r"cannot load the (tokenizer|model)"):
        HFBackend(copy)


def test_remote_code_is_refused_by_default(tiny_model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    config.update(
        model_type="toy_remote", auto_map={"AutoModelForCausalLM": "modeling_toy.ToyModel"}
    )
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelDirError, match="pass --trust-remote-code"):
        HFBackend(copy)
