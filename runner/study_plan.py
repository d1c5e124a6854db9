"""Expand a study config into its ordered, idempotent steps, with done-checks and cost estimates.

Used by: xstage run STUDY (what to run, what to skip) and xstage run STUDY --dry-run (the plan
with estimated tokens and device time). Imports no stage: done-checks read only lake paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runner.steps import (
    Build,
    IngestBenchmark,
    IngestChat,
    IngestCorpus,
    Pretrain,
    Report,
    Score,
    Sft,
    Step,
    Tokenizer,
    checkpoint_meta,
    limit_groups,
    resolve_device,
)
from runner.study_config import StudyConfig, resolved_recipe
from xstage import lake
from xstage.config import ScaleConfig, load_config
from xstage.ids import Stage, run_id

__all__ = ["StudyPlan", "checkpoint_meta", "limit_groups", "plan_study", "study_corpora"]

STEP_KINDS = ("ingest", "tokenizer", "pretrain", "sft", "score", "build", "report")
# `--only train` is the spelling of STYLE §2.6; it means the pretraining steps.
STEP_ALIASES = {"train": "pretrain"}
# Items assumed per benchmark when the study scores all of them and none are ingested yet.
ASSUMED_ITEMS_PER_BENCHMARK = 2000


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
    """Every step of the study, in a valid order, each naming the steps it depends on."""
    plan = StudyPlan(study, path)
    plan.steps += _ingest_steps(study)
    if study.tokenizer.pretrained_path is None:
        plan.steps.append(_tokenizer_step(study))
    for stage in stages_of(study):
        plan.steps += [_train_step(study, stage, *run) for run in runs_of(study)]
    device = resolve_device(study.scoring.device)
    for stage in stages_of(study):
        plan.steps += [_score_step(study, stage, device, *run) for run in runs_of(study)]
    build = Build(dbt_vars=_dbt_vars(study), deps=tuple(step.name for step in plan.steps))
    plan.steps += [build, Report(study=study.id, study_path=path, deps=(build.name,))]
    return plan


def _dbt_vars(study: StudyConfig) -> tuple[tuple[str, int], ...]:
    """The study's warehouse settings that differ from dbt_project.yml's defaults.

    Only those: vars are part of the build's project hash, so a plain `xstage build` of a study
    at the defaults stays incremental.
    """
    from warehouse.build import project_vars

    wanted = {
        "decision_bootstrap_resamples": study.decision_bootstrap_resamples,
        "last_checkpoints": study.scoring.last_checkpoints,
    }
    defaults = project_vars()
    return tuple(sorted((k, v) for k, v in wanted.items() if v != defaults[k]))


def _ingest_steps(study: StudyConfig) -> list[Step]:
    steps: list[Step] = [IngestBenchmark(benchmark=b) for b in study.benchmarks]
    max_docs = study.max_docs_per_corpus
    steps += [IngestCorpus(corpus=c, max_docs=max_docs) for c in study_corpora(study)]
    if Stage.SFT in study.stages:
        limit = study.max_chat_examples
        steps += [IngestChat(dataset=d, max_examples=limit) for d in study.chat]
    return steps


def tokenizer_dir(study: StudyConfig) -> Path:
    """Where the study's trained tokenizer is saved: `<data>/tokenizers/<study>/`."""
    return lake.tokenizer_dir(study.id)


def _tokenizer_step(study: StudyConfig) -> Tokenizer:
    corpora = tuple(study_corpora(study))
    return Tokenizer(
        study=study.id,
        corpora=corpora,
        out_dir=tokenizer_dir(study),
        vocab_size=study.tokenizer.vocab_size,
        max_docs=study.tokenizer.max_docs,
        deps=tuple(IngestCorpus(corpus=corpus).name for corpus in corpora),
    )


def _sets(section: str, overrides: dict) -> tuple[str, ...]:
    return tuple(f"{section}.{key}={value}" for key, value in sorted(overrides.items()))


def _train_step(study: StudyConfig, stage: str, scale: str, mixture: str, seed: int) -> Step:
    rid = run_id(scale, mixture, seed)
    recipes = study.recipes[scale]
    tokens = _train_tokens(study, stage, scale)
    cost = {"tokens": tokens, "seconds": tokens / study.estimate.train_tokens_per_s[scale]}
    if stage == "pretrain":
        corpora = [s.corpus for s in load_config("mixtures", mixture).sources]
        deps = [IngestCorpus(corpus=corpus).name for corpus in dict.fromkeys(corpora)]
        if study.tokenizer.pretrained_path is None:
            deps.append(f"tokenizer {study.id}")
        return Pretrain(
            run_id=rid,
            scale=scale,
            mixture=mixture,
            seed=seed,
            recipe=recipes.pretrain,
            tokenizer=study.tokenizer.pretrained_path or str(tokenizer_dir(study)),
            sets=_sets("train", recipes.pretrain_overrides),
            deps=tuple(deps),
            **cost,
        )
    chats = tuple(IngestChat(dataset=d).name for d in study.chat)
    return Sft(
        run_id=rid,
        recipe=recipes.sft,
        datasets=tuple(study.chat),
        sets=_sets("sft", recipes.sft_overrides),
        deps=(f"pretrain {rid}", *chats),
        **cost,
    )


def _score_step(
    study: StudyConfig, stage: str, device: str, scale: str, mixture: str, seed: int
) -> Score:
    rid = run_id(scale, mixture, seed)
    n_items = sum(_items_of(study, benchmark) for benchmark in study.benchmarks)
    tokens = n_items * study.estimate.mean_item_tokens
    options = study.scoring
    return Score(
        run_id=rid,
        scale=scale,
        mixture=mixture,
        seed=seed,
        stage=stage,
        limits=tuple((b, study.items_for(b)) for b in study.benchmarks),
        backend=options.backend,
        device=device,
        dtype=options.dtype,
        batch_tokens=options.batch_tokens,
        pmi=options.pmi,
        last_checkpoints=options.last_checkpoints,
        deps=(f"{stage} {rid}", *(IngestBenchmark(benchmark=b).name for b in study.benchmarks)),
        tokens=tokens,
        seconds=tokens / study.estimate.score_tokens_per_s[scale],
    )


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
