"""Expand a study config into its ordered, idempotent steps, with done-checks and cost estimates.

Used by: xstage run STUDY (what to run, what to skip) and xstage run STUDY --dry-run (the plan
with estimated tokens and device time). Imports no stage: done-checks read only lake paths.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xstage import lake
from xstage.config import ScaleConfig, load_config
from xstage.ids import Stage, run_id
from xstage.study_config import StudyConfig, resolved_recipe

STEP_KINDS = ("ingest", "tokenizer", "pretrain", "sft", "score", "build", "report")
# `--only train` is the spelling of STYLE §2.6; it means the pretraining steps.
STEP_ALIASES = {"train": "pretrain"}
# Items assumed per benchmark when the study scores all of them and none are ingested yet.
ASSUMED_ITEMS_PER_BENCHMARK = 2000


@dataclass
class Step:
    """One idempotent unit of a study: a stage function, its arguments and its done-check."""

    kind: str
    """One of STEP_KINDS."""
    name: str
    """Unique, human-readable key, e.g. `pretrain tiny__demo_edu_45_35_20__seed0`."""
    target: str
    """Key into xstage.pipeline.STEP_TARGETS."""
    kwargs: dict[str, Any]
    """Keyword arguments of the stage function."""
    done: Callable[[], bool]
    """True when the step's outputs exist (evaluated when the step is reached)."""
    tokens: float = 0.0
    """Estimated tokens processed (training or scoring)."""
    seconds: float = 0.0
    """Estimated device seconds, from the study's `estimate` throughputs."""


@dataclass
class StudyPlan:
    """The expanded grid of a study, in execution order."""

    study: StudyConfig
    path: Path
    steps: list[Step] = field(default_factory=list)

    def select(self, only: str | None) -> list[Step]:
        """Steps of one kind (`--only`), or all of them."""
        if only is None:
            return list(self.steps)
        kind = STEP_ALIASES.get(only, only)
        if kind not in STEP_KINDS:
            raise ValueError(f"--only {only!r}: expected one of {', '.join(STEP_KINDS)}")
        return [step for step in self.steps if step.kind == kind]


def stages_of(study: StudyConfig) -> list[str]:
    """The study's stages in training order."""
    return [str(stage) for stage in (Stage.PRETRAIN, Stage.SFT) if stage in study.stages]


def runs_of(study: StudyConfig) -> list[tuple[str, str, int]]:
    """(scale, mixture, seed) of every trained run, scales outermost."""
    return [(s, m, seed) for s in study.scales for m in study.mixtures for seed in study.seeds]


def checkpoint_meta(rid: str, stage: str) -> dict | None:
    """The `final/meta.json` of a run stage, or None while it does not exist."""
    path = lake.run_stage_dir(rid, stage) / "final" / "meta.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def newest_mtime(directory: Path, pattern: str = "*.parquet") -> float:
    """Newest mtime of the files under `directory` matching `pattern` (0 when none)."""
    if not directory.is_dir():
        return 0.0
    return max((path.stat().st_mtime for path in directory.rglob(pattern)), default=0.0)


def study_corpora(study: StudyConfig) -> list[str]:
    """Every corpus the study's mixtures draw on, in first-use order.

    A derived corpus reads its parent's source itself, so parents are not ingested separately.
    """
    ordered: list[str] = []
    for mixture_id in study.mixtures:
        for source in load_config("mixtures", mixture_id).sources:
            if source.corpus not in ordered:
                ordered.append(source.corpus)
    return ordered


def plan_study(study: StudyConfig, path: Path) -> StudyPlan:
    """Every step of the study in order: ingest, tokenizer, pretrain, sft, score, build, report."""
    plan = StudyPlan(study, path)
    plan.steps += _ingest_steps(study)
    if study.tokenizer.pretrained_path is None:
        plan.steps.append(_tokenizer_step(study))
    for stage in stages_of(study):
        plan.steps += [_train_step(study, stage, *run) for run in runs_of(study)]
    for stage in stages_of(study):
        plan.steps += [_score_step(study, stage, *run) for run in runs_of(study)]
    plan.steps += [_build_step(), _report_step(study)]
    return plan


def _ingest_steps(study: StudyConfig) -> list[Step]:
    steps = [
        Step(
            "ingest",
            f"ingest benchmark {benchmark}",
            "ingest_benchmark",
            {"benchmark": benchmark},
            lambda b=benchmark: lake.benchmark_items_path(b).is_file(),
        )
        for benchmark in study.benchmarks
    ]
    steps += [
        Step(
            "ingest",
            f"ingest corpus {corpus}",
            "ingest_corpus",
            {"corpus": corpus, "max_docs": study.max_docs_per_corpus},
            lambda c=corpus: any(lake.documents_dir(c).glob("part-*.parquet")),
        )
        for corpus in study_corpora(study)
    ]
    if Stage.SFT in study.stages:
        steps += [
            Step(
                "ingest",
                f"ingest chat {dataset}",
                "ingest_chat",
                {"dataset": dataset, "max_examples": study.max_chat_examples},
                lambda d=dataset: lake.chat_examples_path(d).is_file(),
            )
            for dataset in study.sft_datasets
        ]
    return steps


def tokenizer_dir(study: StudyConfig) -> Path:
    """Where the study's trained tokenizer is saved: `<data>/tokenizers/<study>/`."""
    return lake.tokenizer_dir(study.id)


def _tokenizer_step(study: StudyConfig) -> Step:
    out = tokenizer_dir(study)
    return Step(
        "tokenizer",
        f"tokenizer {study.id}",
        "tokenizer",
        {
            "corpora": study_corpora(study),
            "out_dir": out,
            "vocab_size": study.tokenizer.vocab_size,
            "max_docs": study.tokenizer.max_docs,
        },
        lambda: (out / "tokenizer.json").is_file() and (out / "tokenizer_config.json").is_file(),
    )


def _train_step(study: StudyConfig, stage: str, scale: str, mixture: str, seed: int) -> Step:
    rid = run_id(scale, mixture, seed)
    recipes = study.recipes[scale]
    recipe_id = recipes.pretrain if stage == "pretrain" else recipes.sft
    overrides = recipes.pretrain_overrides if stage == "pretrain" else recipes.sft_overrides
    kwargs = {"run": rid, "scale": scale, "mixture": mixture, "seed": seed}
    if stage == "pretrain":
        kwargs["tokenizer"] = study.tokenizer.pretrained_path or str(tokenizer_dir(study))
    else:
        kwargs["datasets"] = list(study.sft_datasets)
    kwargs |= {"recipe": recipe_id, "overrides": dict(overrides)}
    tokens = _train_tokens(study, stage, scale)
    return Step(
        stage,
        f"{stage} {rid}",
        stage,
        kwargs,
        lambda: checkpoint_meta(rid, stage) is not None,
        tokens=tokens,
        seconds=tokens / study.estimate.train_tokens_per_s[scale],
    )


def _score_step(study: StudyConfig, stage: str, scale: str, mixture: str, seed: int) -> Step:
    rid = run_id(scale, mixture, seed)

    def done() -> bool:
        meta = checkpoint_meta(rid, stage)
        if meta is None:
            return False
        step = int(meta["checkpoint_step"])
        leaves = (
            lake.predictions_path(scale, mixture, seed, stage, benchmark, step)
            for benchmark in study.benchmarks
        )
        return all(leaf.is_file() for leaf in leaves)

    n_items = sum(_items_of(study, benchmark) for benchmark in study.benchmarks)
    tokens = n_items * study.estimate.mean_item_tokens
    options = study.scoring
    kwargs = {
        "run": rid,
        "stage": stage,
        "limits": {benchmark: study.items_for(benchmark) for benchmark in study.benchmarks},
        "backend": options.backend,
        "device": options.device,
        "dtype": options.dtype,
        "batch_tokens": options.batch_tokens,
        "pmi": options.pmi,
    }
    return Step(
        "score",
        f"score {rid} {stage}",
        "score",
        kwargs,
        done,
        tokens=tokens,
        seconds=tokens / study.estimate.score_tokens_per_s[scale],
    )


def _build_step() -> Step:
    def done() -> bool:
        warehouse = lake.warehouse_path()
        if not warehouse.is_file():
            return False
        return warehouse.stat().st_mtime >= newest_mtime(lake.lake_dir())

    return Step("build", "build warehouse", "build", {}, done)


def _report_step(study: StudyConfig) -> Step:
    def done() -> bool:
        index = lake.reports_dir(study.id) / "index.html"
        warehouse = lake.warehouse_path()
        if not index.is_file() or not warehouse.is_file():
            return False
        return index.stat().st_mtime >= warehouse.stat().st_mtime

    return Step("report", f"report {study.id}", "report", {"study": study.id}, done)


def limit_groups(limits: dict[str, int | None]) -> list[tuple[int | None, list[str]]]:
    """Benchmarks grouped by sample size, in first-seen order: one scoring call per group."""
    groups: dict[int | None, list[str]] = {}
    for benchmark, limit in limits.items():
        groups.setdefault(limit, []).append(benchmark)
    return list(groups.items())


def _items_of(study: StudyConfig, benchmark: str) -> int:
    """Items a checkpoint scores on `benchmark`: the sample size, else the ingested count."""
    if study.items_for(benchmark) is not None:
        return study.items_for(benchmark)
    path = lake.benchmark_items_path(benchmark)
    if path.is_file():
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return ASSUMED_ITEMS_PER_BENCHMARK


def _train_tokens(study: StudyConfig, stage: str, scale: str) -> float:
    """Tokens one run of `stage` trains on: its recipe with the study's overrides applied."""
    settings = resolved_recipe(study.recipes[scale], stage)
    if stage == "pretrain":
        shape: ScaleConfig = load_config("scales", scale)
        seq_len = settings.seq_len or shape.seq_len
        if settings.max_steps:
            return float(settings.max_steps * settings.global_batch_size * seq_len)
        return float(settings.train_tokens)
    examples = settings.max_examples or study.max_chat_examples or study.estimate.sft_examples
    return float(examples * settings.epochs * study.estimate.mean_chat_tokens)
