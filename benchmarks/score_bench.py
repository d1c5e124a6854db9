"""Scoring throughput: our HF backend vs an lm-eval-harness-style baseline vs our vLLM backend.

Used by: `python benchmarks/score_bench.py speed --model small|tiny|smollm2|PATH` (items/s and
ratios on the same items, identical per-item predictions) and
`python benchmarks/score_bench.py accuracy --scale 135M --unit smollm2` (raw and per-char
accuracy from predictions leaves that `xstage score` wrote; for the record only: in the
product, metrics live in dbt). Results go to BENCHMARKS.md ## Scoring.

The baseline follows lm-eval's HFLM._loglikelihood_tokens: one row per choice
(context_enc + continuation_enc)[-(max_length + 1):][:-1], rows sorted by descending length,
right-padded batches, a full-vocabulary log-softmax over every position, then the continuation
slice gathered. It gets the same token budget per batch as our backend.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

from scoring.backends.hf import HFBackend  # noqa: E402
from scoring.forward import ChoiceScore  # noqa: E402
from scoring.prompts import build_requests  # noqa: E402
from scoring.score import load_items, prompt_spec, sample_items  # noqa: E402
from xstage import lake  # noqa: E402
from xstage.config import load_config  # noqa: E402


def ensure_items(benchmark: str) -> None:
    """Ingest the benchmark from XSTAGE_HF_MIRROR if its items are not in the lake yet."""
    if not lake.benchmark_items_path(benchmark).is_file():
        xstage = Path(sys.executable).parent / "xstage"
        subprocess.run([str(xstage), "ingest", "benchmarks", "--benchmark", benchmark], check=True)


def demo_model_dir(scale: str, texts: list[str]) -> Path:
    """A random-weight Llama of a demo scale's shape with a BPE of the scale's vocab size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    cfg = load_config("scales", scale)
    out = lake.cache_dir() / f"bench_{scale}_random"
    if (out / "config.json").is_file():
        return out
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        special_tokens=["<|endoftext|>"],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer)
    special = "<|endoftext|>"
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=special, eos_token=special, pad_token=special
    )
    config = LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.d_model,
        intermediate_size=cfg.ffn_dim,
        num_hidden_layers=cfg.n_layer,
        num_attention_heads=cfg.n_head,
        head_dim=cfg.head_dim,
        num_key_value_heads=cfg.n_kv_head or cfg.n_head,
        max_position_embeddings=cfg.seq_len,
        tie_word_embeddings=cfg.tie_embeddings,
        rope_theta=cfg.rope_theta,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    fast.save_pretrained(out)
    return out


def model_dir_for(name: str, texts: list[str]) -> Path:
    if name == "smollm2":
        from scoring.gguf import smollm2_hf_dir

        return smollm2_hf_dir()
    if name in ("tiny", "small"):
        return demo_model_dir(name, texts)
    return Path(name)


@torch.inference_mode()
def baseline_scores(model, encoded, batch_tokens: int, max_length: int) -> list[list[ChoiceScore]]:
    """lm-eval HFLM._loglikelihood_tokens, one row per choice, full-vocab log-softmax."""
    requests = [
        (i, k, c.context, c.continuation)
        for i, item in enumerate(encoded)
        for k, c in enumerate(item)
    ]
    order = sorted(
        range(len(requests)),
        key=lambda j: (-len(requests[j][2] + requests[j][3]), requests[j][2] + requests[j][3]),
    )
    out: list[list[ChoiceScore | None]] = [[None] * len(item) for item in encoded]
    start = 0
    while start < len(order):
        longest = len(
            (requests[order[start]][2] + requests[order[start]][3])[-(max_length + 1) :][:-1]
        )
        chunk = order[start : start + max(1, batch_tokens // longest)]
        start += len(chunk)
        inputs = [(requests[j][2] + requests[j][3])[-(max_length + 1) :][:-1] for j in chunk]
        padded = torch.zeros(len(chunk), longest, dtype=torch.long)
        for row, inp in enumerate(inputs):
            padded[row, : len(inp)] = torch.tensor(inp)
        multi_logits = torch.log_softmax(model(padded).logits.float(), dim=-1)
        for row, j in enumerate(chunk):
            i, k, _, cont = requests[j]
            inplen, contlen = len(inputs[row]), len(cont)
            logits = multi_logits[row, inplen - contlen : inplen]
            target = torch.tensor(cont)
            greedy = bool((logits.argmax(-1) == target).all())
            logprob = float(logits.gather(1, target[:, None]).sum())
            out[i][k] = ChoiceScore(logprob, contlen, greedy)
    return out  # type: ignore[return-value]


def predictions(scores, requests) -> tuple[list[int], list[int]]:
    """Per item: argmax of raw log-prob and of log-prob per answer character (ties: lowest)."""
    raw, norm = [], []
    for item_scores, request in zip(scores, requests, strict=True):
        lps = [s.logprob for s in item_scores]
        per_char = [
            s.logprob / max(1, len(c.answer_text))
            for s, c in zip(item_scores, request.choices, strict=True)
        ]
        raw.append(lps.index(max(lps)))
        norm.append(per_char.index(max(per_char)))
    return raw, norm


def timed(fn):
    """(result, wall seconds, process CPU seconds): on a shared box CPU time is the steadier."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run_speed(args: argparse.Namespace) -> dict:
    ensure_items(args.benchmark)
    config = load_config("benchmarks", args.benchmark)
    items, pool = load_items(args.benchmark, config)
    items = sample_items(items, args.n_items)
    requests = build_requests(items, prompt_spec(config), pool)
    pairs = [[(c.context, c.continuation) for c in r.choices] for r in requests]
    model_dir = model_dir_for(args.model, [c + r for item in pairs for c, r in item])
    ours = HFBackend(model_dir, dtype=args.dtype, batch_tokens=args.batch_tokens)
    encoded = ours.encode(pairs)
    n_tokens = sum(len(c.context) + len(c.continuation) - 1 for item in encoded for c in item)
    results, times = {}, {}
    runs = {
        "hf": lambda: ours.score(ours.encode(pairs)),
        "baseline": lambda: baseline_scores(
            ours.model, ours.encode(pairs), ours.batch_tokens, ours.max_length
        ),
    }
    for repeat in range(args.repeats):  # interleaved: the box is shared, keep each one's best
        for name, run in runs.items():
            results[name], wall, cpu = timed(run)
            best = times.get(name, (wall, cpu))
            times[name] = (min(best[0], wall), min(best[1], cpu))
            print(f"repeat {repeat}: {name} wall {wall:.2f}s cpu {cpu:.2f}s", flush=True)
    engine_start = None
    if not args.skip_vllm:
        from scoring.backends.vllm import VLLMBackend

        ours.close()
        engine, engine_start, _ = timed(lambda: VLLMBackend(model_dir, dtype=args.dtype))
        results["vllm"], wall, cpu = timed(lambda: engine.score(engine.encode(pairs)))
        times["vllm"] = (wall, cpu)
        print(f"vllm wall {wall:.2f}s cpu {cpu:.2f}s", flush=True)
    return summarise(args, requests, results, times, n_tokens, engine_start)


def summarise(args, requests, results, times, n_tokens, engine_start) -> dict:
    n_items = len(requests)
    reference_raw, reference_norm = predictions(results["baseline"], requests)
    golds = [r.gold_index for r in requests]
    rows = {}
    for name, scores in results.items():
        raw, norm = predictions(scores, requests)
        diffs = [
            abs(a.logprob - b.logprob)
            for x, y in zip(scores, results["baseline"], strict=True)
            for a, b in zip(x, y, strict=True)
        ]
        (wall, cpu), (base_wall, base_cpu) = times[name], times["baseline"]
        rows[name] = {
            "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "items_per_s": round(n_items / wall, 2),
            "items_per_cpu_s": round(n_items / cpu, 2),
            "ratio_vs_baseline_wall": round(base_wall / wall, 2),
            "ratio_vs_baseline_cpu": round(base_cpu / cpu, 2),
            "identical_raw_predictions": sum(
                a == b for a, b in zip(raw, reference_raw, strict=True)
            ),
            "identical_norm_predictions": sum(
                a == b for a, b in zip(norm, reference_norm, strict=True)
            ),
            "max_abs_logprob_diff": max(diffs),
            "acc": sum(p == g for p, g in zip(raw, golds, strict=True)) / n_items,
            "acc_norm": sum(p == g for p, g in zip(norm, golds, strict=True)) / n_items,
        }
    return {
        "model": args.model,
        "benchmark": args.benchmark,
        "n_items": n_items,
        "dtype": args.dtype,
        "n_input_tokens_per_choice_layout": n_tokens,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "vllm_engine_start_s": None if engine_start is None else round(engine_start, 1),
        "backends": rows,
    }


def run_accuracy(args: argparse.Namespace) -> dict:
    """Raw and per-char accuracy per benchmark from written predictions leaves (DuckDB)."""
    import duckdb

    leaves = str(
        lake.table_dir("predictions")
        / f"scale={args.scale}"
        / f"mixture={args.unit}"
        / "**"
        / "*.parquet"
    )
    query = """
        with p as (
            select * from read_parquet($leaves, hive_partitioning = true, hive_types_autocast = false)
        ),
        ranked as (
            select benchmark, item_id,
                arg_max(is_gold, logprob) as raw_correct,
                arg_max(is_gold, logprob / n_chars) as norm_correct,
                count(*) filter (where logprob = max_lp) as n_tied
            from (select *, max(logprob) over (partition by benchmark, item_id) as max_lp from p)
            group by all
        )
        select benchmark, count(*) as n_items, avg(raw_correct::int) as acc,
            avg(norm_correct::int) as acc_norm, count(*) filter (where n_tied > 1) as n_tied_items
        from ranked group by all order by benchmark
    """
    result = duckdb.connect().execute(query, {"leaves": leaves})
    columns = [column[0] for column in result.description]
    rows = [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
    return {"scale": args.scale, "unit": args.unit, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    speed = sub.add_parser("speed")
    speed.add_argument(
        "--model", default="small", help="tiny, small (random weights), smollm2 or a dir"
    )
    speed.add_argument("--benchmark", default="hellaswag")
    speed.add_argument("--n-items", type=int, default=240)
    speed.add_argument("--dtype", default="float32")
    speed.add_argument("--batch-tokens", type=int, default=None)
    speed.add_argument("--repeats", type=int, default=1)
    speed.add_argument("--skip-vllm", action="store_true")
    accuracy = sub.add_parser("accuracy")
    accuracy.add_argument("--scale", default="135M")
    accuracy.add_argument("--unit", default="smollm2")
    for command in (speed, accuracy):
        command.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    args = parser.parse_args()
    result = run_speed(args) if args.command == "speed" else run_accuracy(args)
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
