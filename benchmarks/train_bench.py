"""Training throughput: tokens/s of the training step for the demo scales on CPU, and tokens/s
plus MFU for the paper scales (240M, 1B) on a GPU.

Used by: .venv/bin/python benchmarks/train_bench.py --device cpu            (tiny, small)
         .venv/bin/python benchmarks/train_bench.py --demo-runs [--threads 1]  (whole demo runs:
             pretrain + SFT per demo scale, in-process; needs the demo corpora and alpaca_gpt4
             ingested under $XSTAGE_DATA_DIR)
         .venv/bin/python benchmarks/train_bench.py --device cuda --scale 240M --scale 1B
         [--compile] [--micro-batch N] [--seq-len 4096] [--out results.json]
         (on a lent GPU, all at once: bash benchmarks/gpu_session.sh)
The step is the one training.loop runs: (bf16 autocast on CUDA) forward, the chunked LM head
+ fp32 cross-entropy (training.loss.model_loss_sum; `--loss full` for the full-logits loss,
training.loss.token_loss_sum), backward, gradient clipping, AdamW. Tokens are
random ids (throughput does not depend on them). MFU = tokens/s x training.model.flops_per_token / the device's bf16 peak.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import torch

from training.loop import make_optimizer
from training.loss import model_loss_sum, token_loss_sum
from training.model import PEAK_BF16_TFLOPS, build_model, flops_per_token
from xstage.config import RecipeConfig, load_config

DEFAULT_MICRO = {"tiny": 8, "small": 8, "240M": 8, "1B": 4}


def _peak(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in name), None)


def _step(model, raw_model, optimizer, batch: torch.Tensor, amp: bool, loss: str) -> float:
    context = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if amp
        else torch.autocast("cpu", enabled=False)
    )
    with context:
        if loss == "chunked":  # what training.loop runs
            loss_sum = model_loss_sum(model, raw_model, batch, batch)
        else:  # the full (B, S, V) logits, as before 2026-11-27
            loss_sum = token_loss_sum(model(input_ids=batch).logits, batch)
    loss = loss_sum / batch[:, 1:].numel()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def bench(
    scale_id: str,
    device: torch.device,
    micro: int,
    seq_len: int | None,
    steps: int,
    compile_model: bool,
    loss: str = "chunked",
    profile: Path | None = None,
) -> dict:
    scale = load_config("scales", scale_id)
    seq_len = seq_len or scale.seq_len
    with torch.device(device):  # initialise in place: 1B on the host would take ~30 s
        model = build_model(scale, seed=0)
    recipe_id = (
        f"{'demo' if scale_id in ('tiny', 'small') else 'paper'}_pretrain_{scale_id.lower()}"
    )
    recipe: RecipeConfig = load_config("recipes", recipe_id)
    optimizer = make_optimizer(model, recipe.train)
    forward = torch.compile(model) if compile_model else model
    amp = device.type == "cuda"
    batch = torch.randint(0, scale.vocab_size, (micro, seq_len), device=device)
    warmup = 3 if compile_model or device.type == "cuda" else 2
    start = time.perf_counter()
    for _ in range(warmup):  # with --compile, the first step compiles
        _step(forward, model, optimizer, batch, amp, loss)
    if device.type == "cuda":
        torch.cuda.synchronize()
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        _step(forward, model, optimizer, batch, amp, loss)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    tokens_per_s = steps * micro * seq_len / seconds
    if profile:
        name = f"{scale_id}_{loss}{'_compile' if compile_model else ''}_mb{micro}"
        _profile(
            profile / f"profile_{name}.txt",
            lambda: _step(forward, model, optimizer, batch, amp, loss),
        )
    peak = _peak(device)
    flops = flops_per_token(scale, seq_len)
    return {
        "scale": scale_id,
        "n_params": scale.n_params,
        "device": _device_name(device),
        "threads": torch.get_num_threads(),
        "micro_batch": micro,
        "seq_len": seq_len,
        "dtype": "bf16 autocast" if amp else "fp32",
        "compile": compile_model,
        "loss": loss,
        "steps": steps,
        "warmup_steps": warmup,
        "warmup_s": round(warmup_s, 1),
        "tokens_per_s": round(tokens_per_s, 1),
        "mfu": round(tokens_per_s * flops / (peak * 1e12), 4) if peak else None,
        "peak_tflops": peak,
        "max_memory_gib": _max_memory_gib(device),
    }


def _profile(path: Path, step, n_steps: int = 2) -> None:
    """Kernel-time table (top 40 by self device time, or CPU time on CPU) of `n_steps` steps."""
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(n_steps):
            step()
        if cuda:
            torch.cuda.synchronize()
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(prof.key_averages().table(sort_by=key, row_limit=40, max_name_column_width=70))
    print(f"profile of {n_steps} steps -> {path}", flush=True)


def bench_or_halve(scale_id: str, device: torch.device, micro: int, **kwargs) -> dict:
    """bench(); on out-of-memory, again at half the micro-batch (down to 1), noting the OOMs.

    The paper's 1B at 4 x 4096 was sized on an H200 (141 GB); an 80 GB H100 may not hold it.
    """
    ooms: list[int] = []
    while True:
        try:
            return {**bench(scale_id, device, micro, **kwargs), "oom_micro_batches": ooms}
        except torch.OutOfMemoryError:
            if micro == 1:
                raise
            ooms.append(micro)
        # outside the except block: the traceback (and the model it holds) is gone by now
        print(f"{scale_id}: out of memory at micro-batch {micro}; trying {micro // 2}", flush=True)
        _release(device)
        micro //= 2


def _release(device: torch.device) -> None:
    """Free what the last model left behind before the next one is built."""
    if "torch._dynamo" in sys.modules:  # compiled graphs hold on to the model's weights
        torch._dynamo.reset()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _max_memory_gib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


# (scale, pretrain overrides, SFT overrides): the recipes as written, then the demo study's.
DEMO_RUNS = [
    ("tiny", {}, {}),
    ("small", {}, {}),
    ("tiny", {"train_tokens": 102400, "checkpoint_every": 0}, {"max_examples": 96}),
    ("small", {"train_tokens": 122880, "checkpoint_every": 0}, {"max_examples": 96}),
]


def demo_runs(mixture: str = "demo_quality_65_25_10") -> list[dict]:
    """Wall and CPU seconds of whole pretrain and SFT runs, as `xstage run` makes them."""
    import resource

    from training import pretrain, sft
    from training.tokenizer import train_study_tokenizer
    from xstage import lake

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    tokenizer = train_study_tokenizer(
        pretrain.study_corpora("demo"), 4096, lake.tokenizer_dir("demo")
    )
    results = []
    for scale, pretrain_sets, sft_sets in DEMO_RUNS:
        for stage in ("pretrain", "sft"):
            wall, used = time.perf_counter(), cpu()
            if stage == "pretrain":
                result = pretrain.run(
                    scale,
                    mixture,
                    overrides=pretrain_sets,
                    tokenizer=tokenizer,
                    overwrite=True,
                    show_progress=False,
                )
            else:
                result = sft.run(
                    f"{scale}__{mixture}__seed0",
                    overrides=sft_sets,
                    overwrite=True,
                    show_progress=False,
                )
            row = {
                "scale": scale,
                "stage": stage,
                "overrides": pretrain_sets or sft_sets,
                "steps": result.steps,
                "tokens": result.tokens_seen,
                "wall_s": round(time.perf_counter() - wall, 1),
                "cpu_s": round(cpu() - used, 1),
                "final_loss": round(result.final_loss, 3),
                "threads": torch.get_num_threads(),
            }
            print(json.dumps(row), flush=True)
            results.append(row)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--scale", action="append", help="tiny, small (CPU); 240M, 1B (GPU)")
    parser.add_argument("--micro-batch", type=int, help="sequences per step (default per scale)")
    parser.add_argument("--seq-len", type=int, help="default: the scale's")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument(
        "--loss",
        action="append",
        choices=["chunked", "full"],
        help="chunked LM head (training.loop's, default) or full logits; repeat to run both",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--profile", type=Path, help="also profile 2 steps; tables to this dir")
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument("--demo-runs", action="store_true", help="time whole demo runs instead")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.demo_runs:
        results = demo_runs()
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=2))
        return
    scales = args.scale or (["240M", "1B"] if device.type == "cuda" else ["tiny", "small"])
    if device.type == "cuda":  # TF32 for any fp32 matmul left outside autocast (as the loop)
        torch.set_float32_matmul_precision("high")
    results = []
    for scale, loss in ((s, x) for s in scales for x in args.loss or ["chunked"]):
        micro = args.micro_batch or DEFAULT_MICRO.get(scale, 4)
        steps = args.steps or (10 if device.type == "cuda" else 8)
        result = bench_or_halve(
            scale,
            device,
            micro,
            seq_len=args.seq_len,
            steps=steps,
            compile_model=args.compile,
            loss=loss,
            profile=args.profile,
        )
        results.append(result)
        mfu = f"{result['mfu']:.1%}" if result["mfu"] is not None else "-"
        print(
            f"{scale:>5} {loss:>7}  {result['tokens_per_s']:>10,.0f} tok/s  MFU {mfu}  "
            f"{json.dumps(result)}",
            flush=True,
        )
        if args.out:  # after every scale: a later failure or timeout keeps the earlier ones
            Path(args.out).write_text(json.dumps(results, indent=2))
        _release(device)


if __name__ == "__main__":
    main()
