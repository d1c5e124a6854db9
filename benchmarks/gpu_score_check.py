"""GPU check of the packed shared-context scorer vs the naive one-row-per-choice path.

Used by: `python benchmarks/gpu_score_check.py` on a lent GPU (torch + transformers only, no
xstage install needed: it imports scoring.batching / scoring.forward from this checkout), and
`python benchmarks/gpu_score_check.py --smoke` on CPU (a tiny shape, seconds).

Random-weight Llamas of the paper's 240M and 1B shapes in bf16 score synthetic items of
HellaSwag shape (context ~80 tokens, 4 endings ~25) and ARC shape (context ~35, 4 choices ~6).
Reports per shape: exactness (max |diff| of per-choice log-probs vs the naive path, argmax
agreement), items/s of both paths and the ratio, tokens/s and MFU against the bf16 peak and
against a measured matmul ceiling. Reference (H200, DESIGN §5): naive 1,174 items/s (240M,
HellaSwag) vs packed 2,320; 1B 472 vs 982. Goal: >= 2x naive and >= 50% MFU at 1B.
The packed path is the scorer's own (scoring.forward.score_lines, SDPA held to CUDA_ATTENTION
on CUDA); `--sdpa` times it again under other SDPA backends. `--first-pass VARIANT` times only
one path (`scorer`, `default` = torch's own SDPA choice, `efficient`, `cudnn`, `naive`) over
batch shapes new to the process, once per process (gpu_session.sh step score_shapes).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring.batching import EncodedChoice, pack_items, plan_batches
from scoring.forward import CUDA_ATTENTION, ChoiceScore, collate, score_lines

SHAPES = {
    # the paper's shapes (DESIGN §7, §10): 8 heads of 256, gated FFN 8x, tied 100,864 vocab
    "240M": {"d": 768, "layers": 8, "heads": 8, "head_dim": 256, "ffn": 6144, "vocab": 100_864},
    "1B": {"d": 1680, "layers": 12, "heads": 8, "head_dim": 256, "ffn": 13_440, "vocab": 100_864},
    "smoke": {"d": 64, "layers": 2, "heads": 2, "head_dim": 32, "ffn": 128, "vocab": 1000},
}
ITEM_SHAPES = {"hellaswag": (80, 25, 4), "arc": (35, 6, 4)}  # context, choice tokens, choices
BF16_PEAK = {"H100": 989e12, "H200": 989e12}
# SDPA backends the packed path may use on CUDA, per variant (None: torch's own choice)
ATTENTION = {
    "scorer": CUDA_ATTENTION,
    "default": None,
    "efficient": ("EFFICIENT_ATTENTION",),
    "cudnn": ("CUDNN_ATTENTION",),
    "math": ("MATH",),
}


def build_model(shape: dict, dtype: torch.dtype, device: str) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=shape["vocab"],
        hidden_size=shape["d"],
        intermediate_size=shape["ffn"],
        num_hidden_layers=shape["layers"],
        num_attention_heads=shape["heads"],
        num_key_value_heads=shape["heads"],
        head_dim=shape["head_dim"],
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    return model.to(dtype).eval()


def synthetic_items(
    kind: str, n_items: int, vocab: int, seed: int = 0
) -> list[list[EncodedChoice]]:
    """Random token items whose lengths vary +-50% around the shape's means."""
    context_mean, choice_mean, n_choices = ITEM_SHAPES[kind]
    rng = random.Random(seed)

    def tokens(mean: int) -> tuple[int, ...]:
        return tuple(
            rng.randrange(1, vocab) for _ in range(max(1, round(mean * rng.uniform(0.5, 1.5))))
        )

    return [
        [EncodedChoice(context, tokens(choice_mean)) for _ in range(n_choices)]
        for context in (tokens(context_mean) for _ in range(n_items))
    ]


def packed_scores(
    model, items, batch_tokens: int, device: str, backend: str = "scorer"
) -> list[list[ChoiceScore]]:
    """The scorer's packed path, SDPA held to ATTENTION[backend] on CUDA."""
    rows = pack_items(items, shared_context=True)
    out: list = [None] * len(rows)
    for batch in plan_batches(rows, batch_tokens):
        lines = [[rows[i] for i in line] for line in batch]
        scores = score_lines(model, lines, 0, device, attention=ATTENTION[backend])
        for index, score in zip([i for line in batch for i in line], scores, strict=True):
            out[index] = score
    return out


def batch_shapes(items, batch_tokens: int) -> list[tuple[int, int]]:
    """(lines, line length) of each packed batch: one cuDNN attention plan per distinct one."""
    rows = pack_items(items, shared_context=True)
    return [
        (len(batch), max(sum(len(rows[i].tokens) for i in line) for line in batch))
        for batch in plan_batches(rows, batch_tokens)
    ]


def default_sdpa_choice(model, items, batch_tokens: int, device: str) -> str:
    """The backend SDPA picks for the first packed batch's shapes and mask (no forward run)."""
    from torch.nn.attention import SDPBackend

    config = model.config
    rows = pack_items(items, shared_context=True)
    first = plan_batches(rows, batch_tokens)[0]
    batch = collate([[rows[i] for i in line] for line in first], 0, device)
    lines, length = batch.tokens.shape
    dtype = model.get_input_embeddings().weight.dtype
    q = torch.zeros(lines, config.num_attention_heads, length, config.head_dim, dtype=dtype)
    mask = torch.zeros(batch.mask.shape, dtype=dtype, device=device)
    q = q.to(device)
    choice = int(torch._fused_sdp_choice(q, q, q, attn_mask=mask))
    names = {int(getattr(SDPBackend, name)): name for name in SDPBackend.__members__}
    return f"{names.get(choice, choice)} for [{lines}, {q.shape[1]}, {length}, {q.shape[3]}]"


@torch.inference_mode()
def naive_scores(model, items, batch_rows: int, device: str) -> list[list[ChoiceScore]]:
    """lm-eval style: one row per choice, full logits at every position, fp32 log-softmax."""
    flat = [(i, k, c) for i, item in enumerate(items) for k, c in enumerate(item)]
    flat.sort(key=lambda entry: -len(entry[2].inputs))
    out = [[None] * len(item) for item in items]
    for start in range(0, len(flat), batch_rows):
        chunk = flat[start : start + batch_rows]
        length = len(chunk[0][2].inputs)
        tokens = torch.zeros(len(chunk), length, dtype=torch.long)
        for row, (_, _, choice) in enumerate(chunk):
            tokens[row, : len(choice.inputs)] = torch.tensor(choice.inputs)
        logprobs = torch.log_softmax(model(tokens.to(device)).logits.float(), dim=-1)
        for row, (i, k, choice) in enumerate(chunk):
            first = len(choice.context) - 1
            target = torch.tensor(choice.continuation, device=device)
            sliced = logprobs[row, first : first + len(target)]
            greedy = bool((sliced.argmax(-1) == target).all())
            out[i][k] = ChoiceScore(
                float(sliced.gather(1, target[:, None]).double().sum()), len(target), greedy
            )
    return out


def profile_tables(path: Path, fn) -> None:
    """Top-30 ops by self device time and by host time (where a per-shape set-up would show)."""
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    started = time.perf_counter()
    with profile(activities=activities) as prof:
        fn()
        if cuda:
            torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    table = prof.key_averages()
    sorts = (["self_device_time_total"] if cuda else []) + ["cpu_time_total"]
    text = [f"{path.stem}: {seconds:.2f} s under the profiler"]
    for key in sorts:
        text += [f"--- by {key}", table.table(sort_by=key, row_limit=30, max_name_column_width=60)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(text))
    print(f"profile -> {path}", flush=True)


def timed(fn, device: str):
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return result, time.perf_counter() - started


def matmul_ceiling(device: str, dtype: torch.dtype, size: int) -> float:
    """Measured dense matmul FLOP/s (the practical peak MFU is compared against)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    _, seconds = timed(lambda: [a @ b for _ in range(10)], device)
    return 10 * 2 * size**3 / seconds


def forward_flops(shape: dict, items, packed: bool) -> float:
    """Matmul FLOPs of one pass: body per input token, attention per token pair, LM head per
    predicted position (packed) or per input position (naive)."""
    d, layers, inner = shape["d"], shape["layers"], shape["heads"] * shape["head_dim"]
    body = 2 * layers * (4 * d * inner + 3 * d * shape["ffn"])
    rows = pack_items(items, shared_context=packed)
    tokens = sum(len(row.tokens) for row in rows)
    attention = sum(
        2 * 2 * layers * inner * len(row.tokens) ** 2 for row in rows
    )  # full L x L blocks
    head_positions = sum(len(row.targets) for row in rows) if packed else tokens
    return tokens * body + attention + head_positions * 2 * d * shape["vocab"], tokens


def compare(reference, candidate) -> dict:
    pairs = [
        (a.logprob, b.logprob)
        for x, y in zip(reference, candidate, strict=True)
        for a, b in zip(x, y, strict=True)
    ]
    diffs = [abs(a - b) for a, b in pairs]
    rel = [abs(a - b) / max(1e-9, abs(a)) for a, b in pairs]
    argmax = [
        max(range(len(x)), key=lambda k: x[k].logprob)
        == max(range(len(y)), key=lambda k: y[k].logprob)
        for x, y in zip(reference, candidate, strict=True)
    ]
    return {
        "max_abs_diff": max(diffs),
        "max_rel_diff": max(rel),
        "argmax_agreement": sum(argmax) / len(argmax),
    }


def check_shape(name: str, args, device: str, dtype: torch.dtype, ceiling: float) -> list[dict]:
    shape = SHAPES[name]
    model = build_model(shape, dtype, device)
    results = []
    for kind in args.items:
        items = synthetic_items(kind, args.n_items, shape["vocab"])
        packed_scores(model, items[: args.warmup], args.batch_tokens, device)  # warm-up
        naive_scores(model, items[: args.warmup], args.batch_rows, device)
        # the first packed pass meets every batch shape for the first time; later ones do not
        packed = partial(packed_scores, model, items, args.batch_tokens, device)
        ours, t_ours = timed(packed, device)
        t_again = [timed(packed, device)[1] for _ in range(args.repeat - 1)]
        base, t_base = timed(partial(naive_scores, model, items, args.batch_rows, device), device)
        flops_ours, tokens_ours = forward_flops(shape, items, packed=True)
        flops_base, tokens_base = forward_flops(shape, items, packed=False)
        peak = args.peak_tflops * 1e12
        row = {
            "shape": name,
            "items": kind,
            "n_items": len(items),
            "dtype": str(dtype),
            "packed_items_per_s": round(len(items) / t_ours, 1),
            "naive_items_per_s": round(len(items) / t_base, 1),
            "speedup": round(t_base / t_ours, 2),
            "packed_tokens_per_s": round(tokens_ours / t_ours),
            "naive_tokens_per_s": round(tokens_base / t_base),
            "packed_mfu_vs_peak": round(flops_ours / t_ours / peak, 3),
            "naive_mfu_vs_peak": round(flops_base / t_base / peak, 3),
            "packed_mfu_vs_matmul_ceiling": round(flops_ours / t_ours / ceiling, 3),
            **compare(base, ours),
        }
        if t_again:  # same items and batch shapes again
            row["packed_items_per_s_repeats"] = [round(len(items) / t, 1) for t in t_again]
        diagnose(row, model, items, base, packed, args, device)
        results.append(row)
        print(json.dumps(results[-1]), flush=True)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return results


def diagnose(row: dict, model, items, base, packed, args, device: str) -> None:
    """Add to `row`: SDPA's default backend, a profile on unseen shapes, one-backend timings."""
    if device.startswith("cuda"):
        row["sdpa_default"] = default_sdpa_choice(model, items, args.batch_tokens, device)
    print(json.dumps(row), flush=True)  # in the log before the riskier runs below
    if args.profile:  # items of another seed: batch shapes this process has not seen yet
        kind = row["items"]
        fresh = synthetic_items(kind, args.n_items, model.config.vocab_size, seed=1)
        profile_tables(
            args.profile / f"profile_{row['shape']}_{kind}.txt",
            partial(packed_scores, model, fresh, args.batch_tokens, device),
        )
    for backend in args.sdpa:  # the packed path with SDPA held to one backend
        try:
            scores, seconds = timed(partial(packed, backend=backend), device)
        except (RuntimeError, ValueError, NotImplementedError) as error:  # no available kernel
            row[f"packed_error_{backend}"] = str(error).splitlines()[0][:200]
            continue
        row[f"packed_items_per_s_{backend}"] = round(len(items) / seconds, 1)
        row[f"max_abs_diff_{backend}"] = compare(base, scores)["max_abs_diff"]


def first_pass(name: str, index: int, args, device: str, dtype: torch.dtype) -> dict:
    """One path's pass over batch shapes new to this process (after a warm-up), then again."""
    shape, variant, kind = SHAPES[name], args.first_pass, args.items[0]
    model = build_model(shape, dtype, device)
    if variant == "naive":
        run = partial(naive_scores, model, batch_rows=args.batch_rows, device=device)
    else:
        run = partial(packed_scores, model, batch_tokens=args.batch_tokens, device=device)
        run = partial(run, backend=variant)
    # each shape its own seeds: the second model meets none of the first one's batch shapes
    run(synthetic_items(kind, args.warmup, shape["vocab"], seed=100 + index))  # kernels, allocator
    items = synthetic_items(kind, args.n_items, shape["vocab"], seed=10 + index)
    scores, first = timed(partial(run, items), device)
    again = timed(partial(run, items), device)[1]
    if variant == "naive":
        lengths = sorted((len(c.inputs) for item in items for c in item), reverse=True)
        rows = args.batch_rows
        shapes = [(len(lengths[i : i + rows]), lengths[i]) for i in range(0, len(lengths), rows)]
    else:
        shapes = batch_shapes(items, args.batch_tokens)
    row = {
        "shape": name,
        "items": kind,
        "n_items": len(items),
        "variant": variant,
        "attention": ATTENTION.get(variant) or "torch's choice",
        "batches": len(shapes),
        "distinct_batch_shapes": len(set(shapes)),
        "first_pass_s": round(first, 3),
        "repeat_s": round(again, 3),
        "first_items_per_s": round(len(items) / first, 1),
        "repeat_items_per_s": round(len(items) / again, 1),
        "first_tokens_per_s": round(forward_flops(shape, items, variant != "naive")[1] / first),
        "extra_s_per_new_shape": round((first - again) / len(set(shapes)), 3),
    }
    if variant == "scorer":  # the scorer's exactness against the naive path (untimed)
        row.update(compare(naive_scores(model, items, args.batch_rows, device), scores))
    print(json.dumps(row), flush=True)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shape on CPU, fp32, seconds")
    parser.add_argument("--shapes", nargs="+", default=["240M", "1B"])
    parser.add_argument("--items", nargs="+", default=list(ITEM_SHAPES), choices=ITEM_SHAPES)
    parser.add_argument("--repeat", type=int, default=1, help="time the packed path N times")
    parser.add_argument(
        "--sdpa",
        nargs="*",
        default=[],
        choices=list(ATTENTION),
        help="also time the packed path with SDPA held to each of these backends",
    )
    parser.add_argument(
        "--first-pass",
        choices=[*ATTENTION, "naive"],
        help="only time this path on unseen batch shapes, then again (one per fresh process)",
    )
    parser.add_argument("--n-items", type=int, default=2048)
    parser.add_argument("--warmup", type=int, default=64)
    parser.add_argument("--batch-tokens", type=int, default=65_536)
    parser.add_argument("--batch-rows", type=int, default=256)
    parser.add_argument(
        "--peak-tflops", type=float, default=989.0, help="bf16 dense peak (H100/H200 SXM)"
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--profile", type=Path, help="profile one packed pass per shape x items; tables here"
    )
    args = parser.parse_args()
    if args.smoke:
        device, dtype, args.shapes, args.sdpa = "cpu", torch.float32, ["smoke"], args.sdpa[:1]
        args.n_items, args.warmup, args.batch_tokens, args.batch_rows = 32, 4, 2048, 16
    else:
        device, dtype = "cuda", torch.bfloat16
        assert torch.cuda.is_available(), "no CUDA device: run with --smoke on CPU"
    report = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "results": [],
    }
    if not args.first_pass:
        ceiling = matmul_ceiling(device, dtype, 256 if args.smoke else 8192)
        report["matmul_ceiling_tflops"] = round(ceiling / 1e12, 1)
    for index, name in enumerate(args.shapes):
        if args.first_pass:
            report["results"].append(first_pass(name, index, args, device, dtype))
        else:
            report["results"].extend(check_shape(name, args, device, dtype, ceiling))
        text = json.dumps(report, indent=2)
        if args.out:  # after every shape: a later failure or timeout keeps the earlier ones
            args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
