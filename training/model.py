"""Scale config -> transformers Llama model, and the arithmetic behind MFU.

Used by: xstage train (model construction, regional compile), benchmarks/train_bench.py
(flops per token) and benchmarks/gpu_train_levers.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xstage.config import ScaleConfig

if TYPE_CHECKING:
    from transformers import LlamaConfig, LlamaForCausalLM

# Demo contexts are 256-512 tokens; loaders still accept few-shot prompts up to this length.
MIN_POSITIONS = 2048
# Dense bf16 peak of the accelerators we report MFU against (vendor spec sheets, TFLOP/s).
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def llama_config(scale: ScaleConfig, eos_token_id: int | None = None) -> LlamaConfig:
    """The transformers config of a scale: bias-free Llama, SwiGLU MLP, RMSNorm, RoPE."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=scale.vocab_size,
        hidden_size=scale.d_model,
        intermediate_size=scale.ffn_dim,
        num_hidden_layers=scale.n_layer,
        num_attention_heads=scale.n_head,
        num_key_value_heads=scale.n_kv_head or scale.n_head,
        head_dim=scale.head_dim,
        # RoPE has no learned positions: this is only the cap loaders (vLLM's max_model_len)
        # accept. The trained context is meta.json's seq_len.
        max_position_embeddings=max(scale.seq_len, MIN_POSITIONS),
        rope_theta=scale.rope_theta,
        tie_word_embeddings=scale.tie_embeddings,
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
        initializer_range=0.02,
    )


def build_model(scale: ScaleConfig, seed: int, eos_token_id: int | None = None) -> LlamaForCausalLM:
    """A freshly initialised model; the same seed gives the same weights on every process."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_config(scale, eos_token_id))
    assert count_parameters(model) == scale.n_params, "ScaleConfig.n_params formula is off"
    return model


def compile_layers(model: object, **compile_kwargs) -> list[str]:
    """Regional compile: torch.compile each decoder layer in place; returns their names.

    Every layer has the same code, so one graph serves them all (compile time ~ one layer's,
    not the model's); embeddings, final norm and the chunked loss stay eager. In place
    (`Module.compile`), so parameter names, state dicts and FSDP's per-layer sharding are
    untouched.
    """
    names = []
    for name, module in model.named_modules():  # type: ignore[attr-defined]
        if name.startswith("model.layers.") and name.count(".") == 2:
            module.compile(**compile_kwargs)
            names.append(name)
    return names


def count_parameters(model: object) -> int:
    """Unique parameters of an allocated model (tied weights counted once)."""
    return sum(param.numel() for param in model.parameters())  # type: ignore[attr-defined]


def flops_per_token(scale: ScaleConfig, seq_len: int) -> float:
    """Training FLOPs per token: 6 x matmul parameters + causal attention (6 L S H hd).

    The matmul parameters include the LM head (tied or not) but not the embedding lookup;
    with a tied head that equals n_params. This is the convention behind the reference
    figures (240M at 134k tok/s ~ 26% of an H200's 989 TFLOP/s).
    """
    matmul_params = scale.n_params_non_embedding + scale.vocab_size * scale.d_model
    attention = 6 * scale.n_layer * seq_len * scale.n_head * scale.head_dim
    return 6.0 * matmul_params + attention


def mfu(tokens_per_s: float, scale: ScaleConfig, seq_len: int, peak_tflops: float) -> float:
    """Model FLOPs utilisation: achieved training FLOP/s over the device's bf16 peak."""
    return tokens_per_s * flops_per_token(scale, seq_len) / (peak_tflops * 1e12)
