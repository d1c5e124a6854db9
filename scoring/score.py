"""Write per-choice log-probs for one run x stage x benchmark into the lake (DESIGN §4-§5).

Used by: xstage score --run RUN_ID --stage pretrain|sft, xstage score --model PATH --run-id NAME,
and the study runner in-process (`score_run`). Each benchmark leaf is written whole and
atomically; a leaf that exists is skipped unless `overwrite`, so a killed run resumes cleanly.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from scoring.backends import load_backend
from scoring.backends.base import ModelDirError, ScoringBackend
from scoring.prompts import ItemRequest, PromptSpec, build_requests, unconditional_pairs
from xstage import lake, lake_writes
from xstage.config import BenchmarkConfig, ConfigError, list_ids, load_config
from xstage.ids import check_run_id, check_stage
from xstage.run_record import CheckpointMetaError, read_checkpoint_meta
from xstage.schemas import BENCHMARK_ITEMS, PREDICTIONS

logger = logging.getLogger(__name__)

# Items scored in one backend pass across benchmarks: big batches for tiny demo models, and a
# bounded amount of work lost if a long run is killed (leaves are written after each group).
GROUP_ITEMS = 4096


@dataclass(frozen=True)
class Checkpoint:
    """A model directory and the lake identity its predictions are filed under."""

    path: Path
    scale: str
    mixture: str
    seed: int
    stage: str
    step: int

    def leaf(self, benchmark: str) -> Path:
        """This checkpoint's predictions leaf for one benchmark."""
        return lake.predictions_path(
            self.scale, self.mixture, self.seed, self.stage, benchmark, self.step
        )


@dataclass(frozen=True)
class LeafResult:
    """What happened to one benchmark leaf."""

    benchmark: str
    path: Path
    status: str  # "written" or "skipped"
    n_items: int = 0
    n_rows: int = 0
    seconds: float = 0.0


@dataclass
class ScoreSummary:
    """Everything one score call did, leaf by leaf."""

    checkpoint: Checkpoint
    leaves: list[LeafResult] = field(default_factory=list)
    backend: str = ""
    seconds: float = 0.0

    @property
    def n_written(self) -> int:
        """Leaves written by this call."""
        return sum(leaf.status == "written" for leaf in self.leaves)


def resolve_checkpoint(run_id: str, stage: str, checkpoint: str = "final") -> Checkpoint:
    """The checkpoint dir of a trained run, with identity read from its meta.json."""
    check_run_id(run_id, "run")
    stage = str(check_stage(stage))
    path = lake.run_stage_dir(run_id, stage) / checkpoint
    try:
        meta = read_checkpoint_meta(path)
    except CheckpointMetaError as exc:
        raise ModelDirError(f"run {run_id!r} stage {stage}: {exc}") from None
    return Checkpoint(path, meta.scale, meta.mixture, meta.seed, stage, meta.checkpoint_step)


def load_items(benchmark: str, config: BenchmarkConfig) -> tuple[list[dict], list[dict]]:
    """(items to score, few-shot pool) from the benchmark_items leaf, items in item_hash order.

    With a `fewshot_source` split the pool is that split's rows and only the evaluated split is
    scored; without one the pool is the evaluated items themselves (the item is excluded).
    """
    path = lake.benchmark_items_path(benchmark)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no benchmark_items for {benchmark!r}; run `xstage ingest benchmarks "
            f"--benchmark {benchmark}` first"
        )
    rows = _read_items(str(path), path.stat().st_mtime_ns)
    if config.fewshot_source is None or config.fewshot_source.split == config.source.split:
        return rows, rows
    pool = [row for row in rows if row["split"] == config.fewshot_source.split]
    items = [row for row in rows if row["split"] != config.fewshot_source.split]
    if config.n_fewshot and not pool:
        raise ValueError(f"{path}: no rows of few-shot split {config.fewshot_source.split!r}")
    return items, pool


@functools.lru_cache(maxsize=32)
def _read_items(path: str, mtime_ns: int) -> list[dict]:
    """A benchmark_items leaf as dicts in item_hash order, cached while the file is unchanged.

    The study runner scores dozens of checkpoints in one process; callers must not mutate.
    """
    table = pq.read_table(path)
    missing = set(BENCHMARK_ITEMS.names) - set(table.column_names)
    if missing:
        raise ValueError(f"{path}: missing benchmark_items columns {sorted(missing)}")
    return sorted(table.to_pylist(), key=lambda row: (row["item_hash"], row["item_id"]))


def sample_items(items: list[dict], limit: int | None) -> list[dict]:
    """The first `limit` items in item_hash order: a seeded-by-content sample (DESIGN §10)."""
    if limit is None:
        return items
    if limit <= 0:
        raise ValueError(f"limit={limit} must be positive")
    return items[:limit]


def prompt_spec(config: BenchmarkConfig) -> PromptSpec:
    """The scoring-relevant part of a benchmark config."""
    return PromptSpec(config.formulation, config.choice_prefix, config.n_fewshot)


def predictions_table(
    items: Sequence[dict],
    scores: Sequence[Sequence],
    requests: Sequence,
    backend: ScoringBackend,
    step: int,
    unconditional: Sequence[Sequence] | None = None,
) -> pa.Table:
    """One PREDICTIONS row per item x choice; `unconditional` scores fill logprob_uncond."""
    columns: dict[str, list] = {name: [] for name in PREDICTIONS.names}
    scored_at = datetime.now(UTC)
    uncond = unconditional or [[None] * len(r.choices) for r in requests]
    for item, request, item_scores, item_uncond in zip(
        items, requests, scores, uncond, strict=True
    ):
        pairs = zip(request.choices, item_scores, item_uncond, strict=True)
        for index, (choice, score, bare) in enumerate(pairs):
            answer = choice.answer_text
            logprob_uncond = None if bare is None else bare.logprob
            values = (
                (item["item_id"], index, index == request.gold_index, score.logprob),
                (score.n_tokens, len(answer), len(answer.encode("utf-8")), score.is_greedy),
                (logprob_uncond, step, backend.name, backend.version, backend.dtype, scored_at),
            )
            for name, value in zip(PREDICTIONS.names, sum(values, ()), strict=True):
                columns[name].append(value)
    return pa.table(columns, schema=PREDICTIONS)


@dataclass(frozen=True)
class PendingLeaf:
    """A benchmark leaf to write: its items in item_hash order and their requests."""

    benchmark: str
    path: Path
    items: list[dict]
    requests: list[ItemRequest]


def prepare_leaf(benchmark: str, leaf: Path, limit: int | None) -> PendingLeaf:
    """Load one benchmark's config and items and render its requests."""
    config = load_config("benchmarks", benchmark)
    assert isinstance(config, BenchmarkConfig)
    items, pool = load_items(benchmark, config)
    items = sample_items(items, limit)
    return PendingLeaf(benchmark, leaf, items, build_requests(items, prompt_spec(config), pool))


def score_leaves(
    backend: ScoringBackend, leaves: Sequence[PendingLeaf], step: int, pmi: bool = False
) -> list[LeafResult]:
    """Score several leaves in one pass (big batches for small models), then write each whole.

    With `pmi`, each answer is also scored after the BOS token alone (logprob_uncond) in the
    same pass. A leaf is visible only after its atomic rename, so a crash mid-group leaves no
    partial leaf.
    """
    started = time.perf_counter()
    requests = [request for leaf in leaves for request in leaf.requests]
    pairs = [[(c.context, c.continuation) for c in request.choices] for request in requests]
    if pmi:
        pairs += [unconditional_pairs(request) for request in requests]
    everything = backend.score(backend.encode(pairs))
    scores = iter(everything[: len(requests)])
    unconditional = iter(everything[len(requests) :]) if pmi else None
    seconds = (time.perf_counter() - started) / max(1, len(requests))
    results = []
    # One writer of lake/predictions at a time; taking the lock sweeps dead writers' temps.
    with lake_writes.writer_lock(["predictions"], "score"):
        for leaf in leaves:
            leaf_scores = [next(scores) for _ in leaf.requests]
            bare = [next(unconditional) for _ in leaf.requests] if unconditional else None
            table = predictions_table(leaf.items, leaf_scores, leaf.requests, backend, step, bare)
            lake.write_parquet(table, leaf.path, PREDICTIONS)
            n_items = len(leaf.items)
            results.append(
                LeafResult(
                    leaf.benchmark, leaf.path, "written", n_items, table.num_rows, seconds * n_items
                )
            )
    return results


def score_benchmark(
    backend: ScoringBackend,
    benchmark: str,
    leaf: Path,
    step: int,
    limit: int | None,
    pmi: bool = False,
) -> LeafResult:
    """Score one benchmark and write its leaf atomically."""
    return score_leaves(backend, [prepare_leaf(benchmark, leaf, limit)], step, pmi)[0]


def default_benchmarks() -> list[str]:
    """Every configured benchmark whose items are in the lake."""
    found = [b for b in list_ids("benchmarks") if lake.benchmark_items_path(b).is_file()]
    if not found:
        raise ConfigError("no benchmark has items in the lake; run `xstage ingest benchmarks`")
    return found


def score_checkpoint(
    checkpoint: Checkpoint,
    benchmarks: Sequence[str] | None = None,
    backend: str = "hf",
    limit: int | None = None,
    overwrite: bool = False,
    group_items: int = GROUP_ITEMS,
    pmi: bool = False,
    **backend_options: object,
) -> ScoreSummary:
    """Score every benchmark leaf of one checkpoint that is missing (all, with overwrite).

    The model loads once, and only if some leaf needs it: a rerun over finished leaves costs
    a few stat calls. Benchmarks are scored together, a group at a time: a group closes once
    it holds `group_items` items, and its leaves are written before the next group starts.
    """
    started = time.perf_counter()
    summary = ScoreSummary(checkpoint, backend=backend)
    engine: ScoringBackend | None = None
    group: list[PendingLeaf] = []
    try:
        for name in list(benchmarks) if benchmarks else default_benchmarks():
            path = checkpoint.leaf(name)
            if path.exists() and not overwrite:
                summary.leaves.append(LeafResult(name, path, "skipped"))
                continue
            group.append(prepare_leaf(name, path, limit))
            if sum(len(leaf.items) for leaf in group) >= group_items:
                engine = engine or load_backend(backend, checkpoint.path, **backend_options)
                summary.leaves += score_leaves(engine, group, checkpoint.step, pmi)
                group = []
        if group:
            engine = engine or load_backend(backend, checkpoint.path, **backend_options)
            summary.leaves += score_leaves(engine, group, checkpoint.step, pmi)
    finally:
        if engine is not None:
            engine.close()
    summary.seconds = time.perf_counter() - started
    return summary


def score_run(
    run_id: str,
    stage: str,
    benchmarks: Sequence[str] | None = None,
    backend: str = "hf",
    limit: int | None = None,
    overwrite: bool = False,
    checkpoint: str = "final",
    group_items: int = GROUP_ITEMS,
    pmi: bool = False,
    **backend_options: object,
) -> ScoreSummary:
    """Score a trained run's checkpoint `<data>/runs/<run_id>/<stage>/<checkpoint>/`.

    Args:
        run_id: `{scale}__{mixture}__seed{seed}` or an external run's slug.
        stage: `pretrain` or `sft`.
        benchmarks: ids to score; None means every benchmark with items in the lake.
        backend: `hf` or `vllm`.
        limit: score only the first N items in item_hash order (a content-seeded sample).
        overwrite: rewrite leaves that exist (otherwise they are skipped).
        checkpoint: `final` or a periodic `step-NNNNNNN` directory.
        group_items: items per scoring pass across benchmarks (leaves are written per pass).
        pmi: also write logprob_uncond (each answer after BOS alone) for the pmi normalization.
        **backend_options: device, dtype, trust_remote_code, batch_tokens.
    """
    found = resolve_checkpoint(run_id, stage, checkpoint)
    return score_checkpoint(
        found, benchmarks, backend, limit, overwrite, group_items, pmi, **backend_options
    )
