"""The one training loop shared by pretraining and SFT.

AdamW, warmup + cosine, bf16 autocast, gradient accumulation, DDP/FSDP, periodic + final
atomic checkpoints, resume, lake records.

Used by: xstage train and xstage sft (and the same under torchrun). A stage hands it a model,
a batch source (the global batch of each step, deterministic and resumable) and a StageRun.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from rich.progress import TextColumn

from training import checkpoint, distributed, records
from training.loss import IGNORE_INDEX, model_loss_sum
from training.model import compile_layers
from training.schedule import lr_at, warmup_steps
from xstage.attention import sdpa_held_to
from xstage.config import OptimSettings
from xstage.console import progress
from xstage.run_record import (
    CheckpointMeta,
    RunRecord,
    git_sha,
    read_checkpoint_meta,
    write_runs,
)

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """One optimizer step's global batch; labels are IGNORE_INDEX where no loss is taken."""

    input_ids: torch.Tensor
    labels: torch.Tensor
    attention_mask: torch.Tensor | None
    n_tokens: int
    """Tokens that count as seen (non-padding), over the whole global batch."""


class BatchSource(Protocol):
    """A deterministic stream of global batches whose position can be saved and restored."""

    def next_batch(self) -> Batch: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class StageRun:
    """What the loop needs to know about the run it trains."""

    stage: str
    run_id: str
    scale: str
    mixture: str
    seed: int
    settings: OptimSettings
    total_steps: int
    stage_dir: Path
    tokenizer: object
    meta: dict
    """Fixed meta.json fields (config hash, tokenizer hash, n_params, parent, ...)."""
    description: str = ""


@dataclass
class LoopResult:
    """How the loop ended."""

    final_dir: Path
    steps: int
    tokens_seen: int
    final_loss: float
    wall_seconds: float
    losses: list[float] = field(default_factory=list)


@dataclass
class _State:
    step: int = 0
    tokens_seen: int = 0
    wall_before: float = 0.0
    metrics: list[dict] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)


def make_optimizer(model: torch.nn.Module, settings: OptimSettings) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (norm gains and other vectors are not decayed)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    betas = (settings.beta1, settings.beta2)
    # one kernel per step on GPU (recipe `fused_adamw`); foreach on CPU or mixed devices
    fused = settings.fused_adamw and bool(params) and all(p.is_cuda for p in params)
    return torch.optim.AdamW(groups, lr=settings.lr, betas=betas, eps=settings.eps, fused=fused)


def compiled_forward(model, raw_model, settings: OptimSettings, backend: str = "inductor"):
    """What the loop calls: `model`, compiled whole or per decoder layer (recipe `compile`).

    Regional compile (`compile_scope: layers`) compiles raw_model's layers in place and
    returns `model` itself, so the chunked loss (training.loss) runs outside compiled code.
    `backend`: torch.compile's (CPU rehearsals of the benchmarks pass a cheaper one).
    """
    if not settings.compile:
        return model
    if settings.compile_scope == "layers":
        compile_layers(raw_model, backend=backend)
        return model
    return torch.compile(model, backend=backend)


def autocast_dtype(settings: OptimSettings, device: torch.device) -> torch.dtype | None:
    """bf16 when asked, or on `auto` where the device supports it (CUDA); None = fp32."""
    if settings.precision == "bf16":
        return torch.bfloat16
    if settings.precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def micro_batches(batch: Batch, settings: OptimSettings, env: distributed.DistEnv) -> list:
    """This rank's rows of the global batch, cut into micro-batches of equal size."""
    per_rank, remainder = divmod(settings.global_batch_size, env.world_size)
    if remainder or per_rank % settings.micro_batch_size:
        raise ValueError(
            f"global_batch_size={settings.global_batch_size} must be a multiple of "
            f"world_size ({env.world_size}) x micro_batch_size ({settings.micro_batch_size})"
        )
    start = env.rank * per_rank
    pieces = []
    for offset in range(start, start + per_rank, settings.micro_batch_size):
        rows = slice(offset, offset + settings.micro_batch_size)
        mask = batch.attention_mask[rows] if batch.attention_mask is not None else None
        pieces.append((batch.input_ids[rows], batch.labels[rows], mask))
    return pieces


def _restore(resume: Path | None, model, optimizer, source, run: StageRun, fsdp: bool) -> _State:
    if resume is None:
        return _State()
    state = torch.load(resume / checkpoint.TRAINER_STATE_FILE, weights_only=False)
    if state["config_hash"] != run.meta["config_hash"]:
        raise ValueError(
            f"{resume}: written with config {state['config_hash'][:12]}, this run is "
            f"{run.meta['config_hash'][:12]}; pass --overwrite to start over"
        )
    distributed.load_optimizer_state(model, optimizer, state["optimizer"], fsdp)
    source.load_state_dict(state["source"])
    log.info("resuming %s %s from step %d", run.run_id, run.stage, state["step"])
    runs = [RunRecord(**row) for row in state["runs"]]
    return _State(
        state["step"], state["tokens_seen"], state["wall_seconds"], state["metrics"], runs
    )


def _save(name, model, raw_model, optimizer, source, run, st, env, elapsed, with_state) -> Path:
    """Collective: every rank calls (FSDP gathers); rank 0 writes dir, metrics and runs leaf."""
    fsdp = run.settings.fsdp
    weights = distributed.full_state_dict(model, fsdp)
    optim = distributed.optimizer_state(model, optimizer, fsdp) if with_state else None
    final_dir = run.stage_dir / name
    if env.is_main:
        meta = {
            **run.meta,
            "run_id": run.run_id,
            "stage": run.stage,
            "scale": run.scale,
            "mixture": run.mixture,
            "seed": run.seed,
            "checkpoint_step": st.step,
            "n_tokens_seen": st.tokens_seen,
            "wall_seconds": round(elapsed, 3),
            "created_at": records.utc_now().isoformat(),
            "device": f"{records.device_name(env.device)} x{env.world_size}",
            "git_sha": git_sha(),
        }

        def trainer_state(finished: CheckpointMeta) -> dict:
            # The runs rows written so far travel with the resume point (as plain dicts).
            runs = [asdict(r) for r in (*st.runs, RunRecord.of_checkpoint(finished, final_dir))]
            return {
                "step": st.step,
                "tokens_seen": st.tokens_seen,
                "wall_seconds": elapsed,
                "config_hash": run.meta["config_hash"],
                "optimizer": optim,
                "source": source.state_dict(),
                "metrics": list(st.metrics),
                "runs": runs,
            }

        state_fn = trainer_state if with_state else None
        final_dir = checkpoint.save(
            run.stage_dir, name, raw_model, run.tokenizer, meta, state_fn, weights
        )
        st.runs.append(RunRecord.of_checkpoint(read_checkpoint_meta(final_dir), final_dir))
        records.write_metrics(st.metrics, run.scale, run.mixture, run.seed, run.stage)
        write_runs(st.runs)
        checkpoint.prune(run.stage_dir, run.settings.keep_last)
    distributed.barrier(env)
    return final_dir


def _accumulate(model, env: distributed.DistEnv, fsdp: bool, last: bool):
    """Skip the gradient all-reduce (DDP) or reduce-scatter (FSDP) until the last micro-batch."""
    if not env.distributed or last:
        if fsdp and env.distributed:
            model.set_requires_gradient_sync(True)
        return contextlib.nullcontext()
    if fsdp:
        model.set_requires_gradient_sync(False)
        return contextlib.nullcontext()
    return model.no_sync()


def micro_loss(model, raw_model, micro, n_label_tokens, world_size, amp, sdpa) -> torch.Tensor:
    """Backward one micro-batch; returns its summed token loss (detached).

    SDPA is held to the recipe's `sdpa_kernels` (CUDA only) for forward and backward.

    The loss is training.loss's chunked LM head + fp32 cross-entropy (the full logits never
    exist). Scaling by world_size / n_label_tokens makes DDP's gradient average equal the
    gradient of the mean token loss over the whole global batch, whatever the process count.
    """
    input_ids, labels, mask = micro
    context = torch.autocast(input_ids.device.type, dtype=amp) if amp else contextlib.nullcontext()
    with sdpa_held_to(input_ids.device, sdpa):
        with context:  # backward runs outside autocast (in the forward's dtypes)
            loss_sum = model_loss_sum(model, raw_model, input_ids, labels, mask)
        (loss_sum * (world_size / n_label_tokens)).backward()
    return loss_sum.detach()


def train(
    raw_model: torch.nn.Module,
    source: BatchSource,
    run: StageRun,
    env: distributed.DistEnv,
    resume: Path | None = None,
    show_progress: bool = True,
) -> LoopResult:
    """Train `raw_model` for run.total_steps optimizer steps and write `final/`.

    `resume` is a periodic checkpoint whose weights `raw_model` already holds; its optimizer,
    batch-source position, metrics and runs rows are restored here.
    """
    settings = run.settings
    raw_model.to(env.device).train()
    model = distributed.wrap(raw_model, env, settings.fsdp)
    optimizer = make_optimizer(model, settings)
    st = _restore(resume, model, optimizer, source, run, settings.fsdp)
    forward = compiled_forward(model, raw_model, settings)
    amp, sdpa = autocast_dtype(settings, env.device), settings.sdpa_kernels
    if amp is not None and env.device.type == "cuda":  # TF32 for fp32 matmuls autocast leaves
        torch.set_float32_matmul_precision("high")
    warmup = warmup_steps(run.total_steps, settings.warmup_fraction)
    clip = settings.grad_clip if settings.grad_clip > 0 else math.inf
    started, losses = time.perf_counter() - st.wall_before, []
    mark_time, mark_tokens = time.perf_counter(), st.tokens_seen
    bar = progress(TextColumn("{task.fields[rate]} tok/s  loss {task.fields[loss]}"))
    bar.disable = bar.disable or not (show_progress and env.is_main)
    with bar:
        task = bar.add_task(
            run.description or f"{run.stage} {run.run_id}",
            total=run.total_steps,
            completed=st.step,
            rate="-",
            loss="-",
        )
        while st.step < run.total_steps:
            st.step += 1
            lr = lr_at(st.step, run.total_steps, settings.lr, warmup, settings.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = source.next_batch()
            n_label = int((batch.labels[:, 1:] != IGNORE_INDEX).sum())
            assert n_label > 0, f"step {st.step}: a global batch without loss tokens"
            pieces = micro_batches(batch, settings, env)
            step_loss = torch.zeros((), dtype=torch.float64, device=env.device)
            for index, micro in enumerate(pieces):
                micro = tuple(t.to(env.device) if t is not None else None for t in micro)
                context = _accumulate(model, env, settings.fsdp, index == len(pieces) - 1)
                with context:
                    step_loss += micro_loss(
                        forward, raw_model, micro, n_label, env.world_size, amp, sdpa
                    )
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss = float(distributed.all_sum(step_loss, env)) / n_label
            losses.append(loss)
            st.tokens_seen += batch.n_tokens
            last = st.step == run.total_steps
            if st.step % settings.log_every == 0 or last:
                now = time.perf_counter()
                rate = (st.tokens_seen - mark_tokens) / max(now - mark_time, 1e-9)
                mark_time, mark_tokens = now, st.tokens_seen
                st.metrics.append(
                    {
                        "step": st.step,
                        "loss": loss,
                        "lr": lr,
                        "tokens_seen": st.tokens_seen,
                        "tokens_per_s": rate,
                        "grad_norm": grad_norm,
                        "logged_at": records.utc_now(),
                    }
                )
                bar.update(task, rate=f"{rate:,.0f}", loss=f"{loss:.3f}")
            bar.update(task, completed=st.step)
            every = settings.checkpoint_every
            if every and st.step % every == 0 and not last:
                elapsed = time.perf_counter() - started
                _save(
                    checkpoint.step_name(st.step),
                    model,
                    raw_model,
                    optimizer,
                    source,
                    run,
                    st,
                    env,
                    elapsed,
                    with_state=True,
                )
    elapsed = time.perf_counter() - started
    final_dir = _save(
        checkpoint.FINAL,
        model,
        raw_model,
        optimizer,
        source,
        run,
        st,
        env,
        elapsed,
        with_state=False,
    )
    final_loss = losses[-1] if losses else float("nan")
    return LoopResult(final_dir, st.step, st.tokens_seen, final_loss, elapsed, losses)
