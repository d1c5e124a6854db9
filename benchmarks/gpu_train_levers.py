"""Training speed levers one at a time at the paper's shapes: tokens/s, MFU and loss curves.

Used by: bash benchmarks/gpu_session.sh (step `train_levers`, on a lent GPU), or directly:
         python benchmarks/gpu_train_levers.py --scale 240M --scale 1B --steps 15 --out levers.json
         python benchmarks/gpu_train_levers.py --smoke --out levers.json   (CPU rehearsal, tiny)
Each variant adds one recipe lever (xstage.config.OptimSettings) to the one before:
eager (foreach AdamW, torch's SDPA choice) -> regional compile (compile_scope=layers) ->
+ SDPA held to flash / memory-efficient (sdpa_kernels) -> + fused AdamW (fused_adamw).
Every variant trains a fresh model (seed 0) on the same random batches with the loop's own
pieces (training.loop.compiled_forward, make_optimizer, micro_loss), so its loss curve is
compared step by step with eager's (bf16 noise expected, not bit equality). The first
`--warmup` steps (compile included) are not timed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from train_bench import _device_name, _max_memory_gib, _peak, _release

from training.loop import compiled_forward, make_optimizer, micro_loss
from training.model import build_model, flops_per_token
from xstage.config import load_config

FLASH_OR_EFFICIENT = ["FLASH_ATTENTION", "EFFICIENT_ATTENTION"]
VARIANTS = {  # name -> the recipe fields it sets (cumulative, in this order)
    "eager": {"compile": False, "sdpa_kernels": None, "fused_adamw": False},
    "regional": {"compile": True, "compile_scope": "layers", "fused_adamw": False},
    "regional_sdpa": {
        "compile": True,
        "compile_scope": "layers",
        "sdpa_kernels": FLASH_OR_EFFICIENT,
        "fused_adamw": False,
    },
    "regional_sdpa_fused": {
        "compile": True,
        "compile_scope": "layers",
        "sdpa_kernels": FLASH_OR_EFFICIENT,
        "fused_adamw": True,
    },
}
DEFAULT_MICRO = {"tiny": 4, "240M": 8, "1B": 4}


def _batches(vocab: int, n: int, micro: int, seq_len: int, device) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1234)
    return [
        torch.randint(0, vocab, (micro, seq_len), generator=generator).to(device) for _ in range(n)
    ]


def run_variant(scale_id: str, name: str, args, device: torch.device) -> dict:
    """Train a fresh model `args.steps` steps under one variant; losses and timings."""
    scale = load_config("scales", scale_id)
    recipe = load_config(
        "recipes", f"{'demo' if args.smoke else 'paper'}_pretrain_{scale_id.lower()}"
    )
    settings = recipe.train.model_copy(update=VARIANTS[name])
    micro, seq_len = args.micro_batch or DEFAULT_MICRO[scale_id], args.seq_len or scale.seq_len
    with torch.device(device):
        model = build_model(scale, seed=0)
    model.train()
    forward = compiled_forward(model, model, settings, backend=args.backend)
    optimizer = make_optimizer(model, settings)
    for group in optimizer.param_groups:
        group["lr"] = settings.lr * 0.1  # a fixed, gentle lr: the curve, not the schedule
    amp = torch.bfloat16 if device.type == "cuda" else None
    losses, times = [], []
    for batch in _batches(scale.vocab_size, args.steps, micro, seq_len, device):
        start = time.perf_counter()
        n_label = batch[:, 1:].numel()
        loss = micro_loss(
            forward, model, (batch, batch, None), n_label, 1, amp, settings.sdpa_kernels
        )
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss) / n_label)  # float() waits for the device
        times.append(time.perf_counter() - start)
    timed = times[args.warmup :]
    tokens_per_s = len(timed) * micro * seq_len / sum(timed)
    peak = _peak(device)
    flops = flops_per_token(scale, seq_len)
    row = {
        "scale": scale_id,
        "variant": name,
        "levers": VARIANTS[name],
        "fused": optimizer.defaults["fused"],
        "device": _device_name(device),
        "micro_batch": micro,
        "seq_len": seq_len,
        "vocab_size": scale.vocab_size,
        "tied": scale.tie_embeddings,
        "dtype": "bf16 autocast" if amp else "fp32",
        "compile_backend": args.backend if settings.compile else None,
        "steps": args.steps,
        "timed_steps": len(timed),
        "first_step_s": round(times[0], 2),
        "tokens_per_s": round(tokens_per_s, 1),
        "mfu": round(tokens_per_s * flops / (peak * 1e12), 4) if peak else None,
        "max_memory_gib": _max_memory_gib(device),
        "losses": [round(x, 5) for x in losses],
    }
    del model, forward, optimizer
    _release(device)
    return row


def compare_to_eager(rows: list[dict], tolerance: float) -> None:
    """Add each row's largest per-step loss gap to eager's curve (same scale) and a verdict."""
    eager = {row["scale"]: row["losses"] for row in rows if row["variant"] == "eager"}
    for row in rows:
        base = eager.get(row["scale"])
        if base is None:
            continue
        gap = max(abs(a - b) for a, b in zip(row["losses"], base, strict=True))
        row["max_loss_gap_vs_eager"] = round(gap, 5)
        row["curve_equal_to_eager"] = gap <= tolerance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="append", help="240M, 1B (GPU); tiny (--smoke)")
    parser.add_argument("--variant", action="append", choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=15, help="steps per variant (curve)")
    parser.add_argument("--warmup", type=int, default=3, help="first steps not timed")
    parser.add_argument("--micro-batch", type=int)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--tolerance", type=float, default=0.05, help="max loss gap (nats)")
    parser.add_argument("--backend", default="inductor", help="torch.compile backend")
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny scale, aot_eager")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.smoke:
        device, args.backend = torch.device("cpu"), "aot_eager"
        args.scale, args.steps, args.warmup = args.scale or ["tiny"], min(args.steps, 4), 1
        args.seq_len = args.seq_len or 64
    else:
        device = torch.device("cuda")
        torch.set_float32_matmul_precision("high")  # as training.loop under bf16
    rows = []
    for scale_id in args.scale or ["240M", "1B"]:
        for name in args.variant or list(VARIANTS):
            rows.append(run_variant(scale_id, name, args, device))
            row = rows[-1]
            print(
                f"{scale_id} {name}: {row['tokens_per_s']:,.0f} tok/s, mfu {row['mfu']}, first step {row['first_step_s']} s, losses {row['losses'][:3]}...",
                flush=True,
            )
    compare_to_eager(rows, args.tolerance)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps({"torch": torch.__version__, "rows": rows}, indent=1))
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
