"""The study config: one YAML naming a whole grid, its data, recipes, scoring and costs.

A grid is scales x mixtures x seeds x stages x benchmarks; the config also names the SFT chat
data, the tokenizer, the recipes per scale, the scoring backend and throughput assumptions.

Used by: xstage run configs/studies/demo.yaml [--dry-run], xstage report demo, xstage validate.
Every referenced id must have its config file; errors name the study file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from runner.slurm_config import SlurmSpec
from xstage.config import (
    CONFIG_KINDS as STAGE_CONFIG_KINDS,
)
from xstage.config import (
    ConfigError,
    RecipeConfig,
    StrictModel,
    config_dir,
    kind_class,
    load_config,
    load_file,
)
from xstage.ids import Stage, check_scale, check_slug

Scalar = float | int | str | bool | None
# Study fields renamed for one name per concept (docs/glossary.md): old -> new.
RENAMED_FIELDS = {"sft_datasets": "chat"}


def _check_refs(ids: list[str], kind: str, info: ValidationInfo) -> list[str]:
    """Check that every id has a valid `configs/<kind>/<id>.yaml` (loads it, so it is valid too)."""
    if len(set(ids)) != len(ids):
        raise ValueError(f"an id is listed twice: {ids}")
    for value in ids:
        check_scale(value) if kind == "scales" else check_slug(value, kind)
        path = config_dir() / kind / f"{value}.yaml"
        if not path.is_file():
            raise ValueError(f"{value!r} has no config file {path}")
        try:
            load_file(path, kind_class(kind))
        except ConfigError as exc:
            raise ValueError(f"{value!r} refers to an invalid config: {exc}") from None
    return ids


class TokenizerSpec(StrictModel):
    """The study's one tokenizer (DESIGN §7): trained on the union of its corpora, or given."""

    vocab_size: int | None = Field(None, gt=255)
    """BPE vocabulary to train on the study's corpora; None when `pretrained_path` is set."""
    pretrained_path: str | None = None
    """A tokenizer directory or hub id for real runs; None to train one."""
    max_docs: int | None = Field(None, gt=0)
    """Cap on documents per corpus fed to the BPE trainer (speed); None = all ingested."""

    @model_validator(mode="after")
    def _one_source(self) -> TokenizerSpec:
        if (self.vocab_size is None) == (self.pretrained_path is None):
            raise ValueError("set exactly one of 'vocab_size' and 'pretrained_path'")
        return self


class ScaleRecipes(StrictModel):
    """The recipes that train one scale, plus study-level overrides of their settings."""

    pretrain: str
    """Pretraining recipe id under configs/recipes/."""
    sft: str
    """SFT recipe id under configs/recipes/."""
    pretrain_overrides: dict[str, Scalar] = Field(default_factory=dict)
    """Overrides of the recipe's `train:` fields (e.g. `train_tokens` for a shorter run)."""
    sft_overrides: dict[str, Scalar] = Field(default_factory=dict)
    """Overrides of the recipe's `sft:` fields (e.g. `max_examples`)."""

    _pretrain = field_validator("pretrain", "sft")(lambda value: check_slug(value, "recipe"))


class ScoringSpec(StrictModel):
    """How checkpoints are scored (DESIGN §5)."""

    backend: Literal["hf", "vllm"] = "hf"
    """`hf` (transformers, shared-context packing) or `vllm` (prompt log-probs)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """`cpu`, `cuda`, or `auto` (cuda when available)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Weights dtype; log-softmax and sums are fp32 whatever this is."""
    batch_tokens: int | None = Field(None, gt=0)
    """Tokens per scoring batch; None lets the backend choose (it backs off on OOM)."""
    pmi: bool = False
    """Also score each answer after BOS alone (logprob_uncond) for the `pmi` normalization."""
    last_checkpoints: int = Field(1, ge=1)
    """Checkpoints scored per run x stage: `final` plus the newest n - 1 periodic ones (needs
    `checkpoint_every` and a `keep_last` that keeps them); the warehouse's checkpoint-noise marts
    (signal, noise, SNR) read them (docs/metrics_decisions.md). 1 scores `final` only."""


class CostEstimate(StrictModel):
    """Throughput assumptions behind `--dry-run` time estimates, with their source."""

    device: str
    """What the numbers were measured on, e.g. `H200 (bf16, HF eager)`."""
    source: str
    """Where the numbers come from (a BENCHMARKS.md section, DESIGN §8)."""
    train_tokens_per_s: dict[str, float]
    """Training tokens/s per scale, on one device."""
    score_tokens_per_s: dict[str, float]
    """Scoring tokens/s per scale, on one device."""
    mean_item_tokens: float = Field(200.0, gt=0)
    """Tokens one scored item costs (context + its choices), for scoring estimates."""
    mean_chat_tokens: float = Field(400.0, gt=0)
    """Tokens per chat example, for SFT estimates."""
    sft_examples: int = Field(1000, gt=0)
    """Chat examples per SFT epoch when neither the recipe nor the study caps them."""


class StudyConfig(StrictModel):
    """A whole study: the grid, its data, tokenizer, recipes, and scoring."""

    id: str
    """Study id, equal to the file stem; names `<data>/reports/<id>/`."""
    display_name: str
    """Human name for reports."""
    description: str = ""
    """What the study is for."""
    scales: list[str] = Field(min_length=1)
    """Scale ids under configs/scales/."""
    mixtures: list[str] = Field(min_length=1)
    """Mixture ids under configs/mixtures/: the correlation unit (paper: 9)."""
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    """Training seeds; several seeds are averaged in the marts."""
    stages: list[Stage] = Field(default_factory=lambda: [Stage.PRETRAIN, Stage.SFT], min_length=1)
    """Stages trained and scored; `sft` needs `pretrain`."""
    benchmarks: list[str] = Field(min_length=1)
    """Benchmark ids under configs/benchmarks/."""
    items_per_benchmark: int | None = Field(None, gt=0)
    """Items scored per benchmark: the first N in item_hash order, a content-seeded sample
    (not the first N rows, since several sources are ordered by type); None = all."""
    items_per_benchmark_overrides: dict[str, int] = Field(default_factory=dict)
    """Per-benchmark sample sizes that replace items_per_benchmark (cheap, short benchmarks
    can afford more items, which gives their chance tests more power)."""
    chat: list[str] = Field(default_factory=list)
    """Chat dataset ids under configs/chat/ (e.g. `tulu_v2_mix`), ingested to lake/chat_examples
    and fine-tuned on (`xstage sft --chat`); needed when `sft` is a stage."""
    max_chat_examples: int | None = Field(None, gt=0)
    """Cap on chat examples ingested per dataset; None = all."""
    max_docs_per_corpus: int | None = Field(None, gt=0)
    """Cap on documents ingested per corpus; None = all."""
    tokenizer: TokenizerSpec
    """The study tokenizer."""
    recipes: dict[str, ScaleRecipes]
    """Recipes per scale id (every scale needs one)."""
    scoring: ScoringSpec = Field(default_factory=ScoringSpec)
    """Scoring backend and options."""
    decision_bootstrap_resamples: int = Field(1000, ge=0)
    """Item-bootstrap resamples B of the transfer r and decision-accuracy intervals in the
    warehouse (docs/metrics_decisions.md); 0 switches the bootstrap off."""
    torch_threads: int | None = Field(None, gt=0)
    """CPU threads torch may use in `xstage run` (training and scoring run in-process); None =
    torch's default, every core. Tiny models gain little from a second thread, and on a shared
    machine OpenMP's spin-waiting makes a two-thread run several times slower than one."""
    estimate: CostEstimate
    """Throughput assumptions for `xstage run --dry-run`."""
    slurm: SlurmSpec = Field(default_factory=SlurmSpec)
    """Per-kind Slurm resources of the study's steps (`xstage run --executor slurm`)."""

    _id = field_validator("id")(lambda value: check_slug(value, "id"))

    @field_validator("scales")
    @classmethod
    def _scales_exist(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_refs(value, "scales", info)

    @field_validator("mixtures")
    @classmethod
    def _mixtures_exist(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_refs(value, "mixtures", info)

    @field_validator("benchmarks")
    @classmethod
    def _benchmarks_exist(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_refs(value, "benchmarks", info)

    @model_validator(mode="before")
    @classmethod
    def _renamed_fields(cls, data: object) -> object:
        """Old field names get an error saying the new one (not just `extra inputs`)."""
        for old, new in RENAMED_FIELDS.items():
            if isinstance(data, dict) and old in data:
                raise ValueError(
                    f"field {old!r} is now called {new!r}; rename it in the study file"
                )
        return data

    @field_validator("chat")
    @classmethod
    def _datasets_exist(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_refs(value, "chat", info)

    @field_validator("recipes")
    @classmethod
    def _recipes_exist(cls, value: dict[str, ScaleRecipes], info: ValidationInfo) -> dict:
        for scale, recipes in value.items():
            check_scale(scale, "recipes key")
            _check_refs([recipes.pretrain], "recipes", info)
            _check_refs([recipes.sft], "recipes", info)
            resolved_recipe(recipes, "pretrain")
            resolved_recipe(recipes, "sft")
        return value

    def items_for(self, benchmark: str) -> int | None:
        """Items scored on `benchmark` (None = all of them)."""
        return self.items_per_benchmark_overrides.get(benchmark, self.items_per_benchmark)

    @model_validator(mode="after")
    def _grid_is_complete(self) -> StudyConfig:
        missing = [scale for scale in self.scales if scale not in self.recipes]
        if missing:
            raise ValueError(f"recipes: no recipes for scales {missing}")
        unknown = sorted(set(self.items_per_benchmark_overrides) - set(self.benchmarks))
        if unknown or any(n <= 0 for n in self.items_per_benchmark_overrides.values()):
            raise ValueError(
                f"items_per_benchmark_overrides: {unknown or 'a size'} must name benchmarks of "
                "the study with positive sizes"
            )
        if Stage.SFT in self.stages and not self.chat:
            raise ValueError("chat: stage 'sft' needs at least one chat dataset")
        if Stage.SFT in self.stages and Stage.PRETRAIN not in self.stages:
            raise ValueError("stages: 'sft' fine-tunes the pretrained checkpoint; add 'pretrain'")
        for table in ("train_tokens_per_s", "score_tokens_per_s"):
            lacking = [s for s in self.scales if s not in getattr(self.estimate, table)]
            if lacking:
                raise ValueError(f"estimate.{table}: no throughput for scales {lacking}")
        return self


def resolved_recipe(recipes: ScaleRecipes, stage: str) -> StrictModel:
    """A scale's `train:` or `sft:` recipe section with the study's overrides, re-validated.

    An unknown or ill-typed override is an error that names the field.
    """
    recipe_id = recipes.pretrain if stage == "pretrain" else recipes.sft
    recipe: RecipeConfig = load_config("recipes", recipe_id)
    if recipe.stage != stage:
        raise ValueError(f"recipe {recipe_id!r} is a {recipe.stage} recipe, not {stage}")
    section = recipe.train if stage == "pretrain" else recipe.sft
    overrides = recipes.pretrain_overrides if stage == "pretrain" else recipes.sft_overrides
    try:
        return type(section).model_validate(section.model_dump() | overrides)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) + f": {e['msg']}" for e in exc.errors())
        raise ValueError(f"{stage}_overrides of recipe {recipe_id!r}: {fields}") from None


def load_study(ref: str | Path) -> tuple[StudyConfig, Path]:
    """Load a study by file path (`configs/studies/demo.yaml`) or id (`demo`)."""
    path = Path(ref)
    if path.suffix not in (".yaml", ".yml"):
        check_slug(str(ref), "study")
        path = config_dir() / "studies" / f"{ref}.yaml"
    return load_file(path.resolve(), StudyConfig), path.resolve()


# Every config folder `xstage validate` and `xstage ls` know: the stages' kinds plus studies.
CONFIG_KINDS: dict[str, type[StrictModel]] = {**STAGE_CONFIG_KINDS, "studies": StudyConfig}
