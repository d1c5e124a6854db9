"""Training speed levers (recipe compile_scope, sdpa_kernels, fused_adamw): same numbers as eager.

Regional compile compiles each decoder layer in place; the loss and gradients of the chunked
loss must not move (CPU, fp32, inductor). The recipe fields must reach the real objects.
"""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from training.loop import compiled_forward, make_optimizer
from training.loss import IGNORE_INDEX, model_loss_sum
from xstage.attention import sdpa_held_to
from xstage.config import PretrainSettings

N_LAYERS = 3
# third-party noise of torch's compile stack (importing dynamo; it inspects a non-leaf's .grad)
pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings(
        "ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning"
    ),
]


def _model() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=2,
        head_dim=16,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def _settings(**fields) -> PretrainSettings:
    return PretrainSettings(
        global_batch_size=2, micro_batch_size=2, lr=1e-3, train_tokens=64, **fields
    )


def _loss_and_grads(model, forward) -> tuple[float, dict[str, torch.Tensor]]:
    input_ids = torch.randint(0, 97, (2, 9), generator=torch.Generator().manual_seed(1))
    labels = input_ids.clone()
    labels[1, :3] = IGNORE_INDEX
    loss = model_loss_sum(forward, model, input_ids, labels, chunk_elements=97 * 4)
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), grads


@pytest.mark.slow
def test_regional_compile_gives_eager_loss_and_grads() -> None:
    eager = _model()
    want_loss, want_grads = _loss_and_grads(eager, eager)
    model = _model()
    forward = compiled_forward(model, model, _settings(compile=True, compile_scope="layers"))
    assert forward is model  # the whole model is not wrapped: the loss stays outside
    compiled = {n for n, m in model.named_modules() if m._compiled_call_impl is not None}
    assert compiled == {f"model.layers.{i}" for i in range(N_LAYERS)}
    for _ in range(2):  # the second call runs the cached graph
        loss, grads = _loss_and_grads(model, forward)
        assert loss == pytest.approx(want_loss, rel=1e-5, abs=1e-5)
        assert grads.keys() == want_grads.keys()
        for name, grad in grads.items():
            torch.testing.assert_close(grad, want_grads[name], rtol=1e-5, atol=1e-5, msg=name)


def test_compile_off_and_whole_model_scopes() -> None:
    model = _model()
    assert compiled_forward(model, model, _settings()) is model
    whole = compiled_forward(model, model, _settings(compile=True))
    assert whole is not model
    assert whole._orig_mod is model  # torch.compile's wrapper
    assert all(m._compiled_call_impl is None for m in model.modules())


def test_fused_adamw_only_where_every_parameter_is_cuda() -> None:
    model = _model()
    assert _settings().fused_adamw is True  # the recipe default: fused on CUDA, as before
    assert make_optimizer(model, _settings()).defaults["fused"] is False  # CPU: foreach
    assert make_optimizer(model, _settings(fused_adamw=False)).defaults["fused"] is False


def test_sdpa_kernels_field_and_policy() -> None:
    settings = _settings(sdpa_kernels=["FLASH_ATTENTION", "EFFICIENT_ATTENTION"])
    assert settings.sdpa_kernels == ["FLASH_ATTENTION", "EFFICIENT_ATTENTION"]
    with pytest.raises(ValueError, match="sdpa_kernels"):
        _settings(sdpa_kernels=["FLASH"])
    with sdpa_held_to(torch.device("cuda"), settings.sdpa_kernels):  # global flags; no GPU needed
        assert torch.backends.cuda.flash_sdp_enabled()
        assert torch.backends.cuda.mem_efficient_sdp_enabled()
        assert not torch.backends.cuda.math_sdp_enabled()
        assert not torch.backends.cuda.cudnn_sdp_enabled()
    assert torch.backends.cuda.math_sdp_enabled()  # restored on exit
    with sdpa_held_to(torch.device("cpu"), settings.sdpa_kernels):  # CPU: torch's own choice
        assert torch.backends.cuda.math_sdp_enabled()
