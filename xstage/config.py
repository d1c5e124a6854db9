"""Strict, typed YAML configs (STYLE §2.5): one folder per kind under configs/.

Used by: xstage validate, xstage ls, and every command that takes an id
(--benchmark, --mixture, --scale, a study file).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from xstage.ids import check_scale, check_slug

CONFIG_DIR_ENV = "XSTAGE_CONFIG_DIR"
ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(ValueError):
    """A config file is missing or invalid; the message names the file and the field."""


class StrictModel(BaseModel):
    """Base of every config: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def config_dir() -> Path:
    """The configs/ folder: $XSTAGE_CONFIG_DIR, else the one beside the installed packages."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parents[1] / "configs"


def _format_errors(path: Path, error: ValidationError) -> str:
    """One line per error: the file, the field (none for whole-file checks) and the message."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        # pydantic prefixes a validator's ValueError with "Value error, "; ours are sentences.
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: field '{field}': {message}" if field else f"{path}: {message}")
    return "\n".join(lines)


def load_yaml(path: Path) -> dict:
    """Parse one YAML mapping, raising ConfigError that names the file."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def parse_config(data: dict, cls: type[ModelT], path: Path) -> ModelT:
    """Validate `data` as `cls`; errors name `path` and each bad field."""
    try:
        return cls.model_validate(data, context={"path": path})
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None


def load_file(path: Path, cls: type[ModelT]) -> ModelT:
    """Load and validate one YAML file, and check that its stem equals its id."""
    model = parse_config(load_yaml(path), cls, path)
    identity = getattr(model, "id", None) or getattr(model, "scale", None)
    if identity is not None and identity != path.stem:
        raise ConfigError(
            f"{path}: field 'id': {identity!r} must equal the file stem {path.stem!r}"
        )
    return model


def kind_class(kind: str, kinds: Mapping[str, type[BaseModel]] | None = None) -> type[BaseModel]:
    """The config model of a kind folder (`benchmarks`, `mixtures`, ...).

    `kinds` defaults to the ground floor's CONFIG_KINDS; the runner passes its own, which adds
    `studies` (a study config is the runner's contract, not a stage's).
    """
    kinds = CONFIG_KINDS if kinds is None else kinds
    if kind not in kinds:
        raise ConfigError(f"unknown config kind {kind!r}; expected one of {sorted(kinds)}")
    return kinds[kind]


def load_config(kind: str, config_id: str) -> BaseModel:
    """Load `configs/<kind>/<config_id>.yaml` (the id is checked first: no path traversal)."""
    if kind == "scales":
        check_scale(config_id)
    else:
        check_slug(config_id, kind.rstrip("s") if kind != "corpora" else "corpus")
    path = config_dir() / kind / f"{config_id}.yaml"
    if not path.is_file():
        known = ", ".join(list_ids(kind)) or "none"
        raise ConfigError(f"{path}: no {kind} config {config_id!r} (known: {known})")
    return load_file(path, kind_class(kind))


def list_ids(kind: str) -> list[str]:
    """Ids of every config of one kind, sorted."""
    return sorted(path.stem for path in (config_dir() / kind).glob("*.yaml"))


def load_all(kind: str) -> list[BaseModel]:
    """Every config of one kind, validated."""
    return [load_config(kind, config_id) for config_id in list_ids(kind)]


def validate_tree(
    root: Path | None = None, kinds: Mapping[str, type[BaseModel]] | None = None
) -> list[tuple[Path, str | None]]:
    """Validate every YAML under configs/ (one `kinds` folder each); (path, error or None) per file."""
    root = root or config_dir()
    results: list[tuple[Path, str | None]] = []
    for path in sorted(root.rglob("*.y*ml")):
        kind = path.relative_to(root).parts[0]
        try:
            load_file(path, kind_class(kind, kinds))
            results.append((path, None))
        except ConfigError as exc:
            results.append((path, str(exc)))
    return results


def _slug(value: str, info: ValidationInfo) -> str:
    return check_slug(value, info.field_name or "id")


class DatasetSource(StrictModel):
    """A Hugging Face dataset split; $XSTAGE_HF_MIRROR serves the same id offline."""

    dataset: str
    """Hub id, e.g. `allenai/ai2_arc` (legacy ids like `piqa` are mapped through the mirror index)."""
    config: str | None = None
    """Hub config name; None where the dataset has only the default one."""
    split: str
    """Split to read, e.g. `validation`."""


class BenchmarkConfig(StrictModel):
    """One benchmark variant: dataset split, formulation, template and shots (DESIGN §10)."""

    id: str
    """Benchmark id, equal to the file stem; variants (`arc_easy_mc`) are separate ids."""
    display_name: str
    """Human name for reports, e.g. `ARC-Easy`."""
    version: int = 1
    """Bump when the template or converter changes; lands in benchmark_version."""
    converter: str
    """Key into ingest.benchmarks.CONVERTERS (dataset quirks live in Python, not YAML)."""
    source: DatasetSource
    """Where the items come from."""
    fewshot_source: DatasetSource | None = None
    """Where few-shot examples come from; None means the evaluated split itself, item excluded."""
    category: Literal["commonsense", "science", "nli", "semantic"]
    """Study category (DESIGN §10); user-editable."""
    primary_normalization: Literal["none", "per_token", "per_char", "per_byte"] = "none"
    """The headline accuracy's length normalisation (lm-eval acc_norm -> per_char)."""
    formulation: Literal["rc", "mc"] = "rc"
    """`rc`: cloze over answer text; `mc`: lettered options, continuation ' A'..' D'."""
    template: str
    """str.format template over the converter's fields; rendered into benchmark_items.context."""
    choice_prefix: str = " "
    """Prepended to each continuation (the word-boundary space belongs to the continuation)."""
    n_fewshot: int = Field(0, ge=0)
    """Number of in-context examples, drawn with a fixed seed."""
    chance_accuracy: float = Field(gt=0, lt=1)
    """Expected accuracy of uniform guessing (1 / n_choices for uniform choice counts)."""
    license: str
    """The dataset's licence, listed in reports."""
    in_reference_study: Literal["named", "assumed"] = "named"
    """`named`: the paper's sources name it; `assumed`: our completion of the 20 (README)."""
    notes: str = ""
    """Free text: fidelity caveats, mapping uncertainty."""

    _id = field_validator("id")(_slug)
    _converter = field_validator("converter")(_slug)


class CorpusConfig(StrictModel):
    """A pretraining text corpus: a dataset split, optionally filtered by a named transform."""

    id: str
    """Corpus id, equal to the file stem."""
    display_name: str
    """Human name for reports."""
    kind: Literal["web", "code", "curated", "chat"]
    """Role in a mixture: web, code or curated text."""
    source: DatasetSource | None = None
    """Dataset to read; None when `derived_from` names another corpus."""
    derived_from: str | None = None
    """Id of a corpus this one filters (the demo's three web sources share one crawl)."""
    text_fields: list[str] = Field(default_factory=lambda: ["text"])
    """Columns joined (blank line between) into a document's text."""
    text_separator: str = "\n\n"
    """Put between the text fields when joining them (`""` for a prompt + its code solution)."""
    transform: str | None = None
    """Key into ingest.corpora.TRANSFORMS applied to each document (filters, cleaning)."""
    license: str
    """Licence of the underlying data."""
    description: str = ""
    """What the corpus stands for in the study."""

    _id = field_validator("id")(_slug)

    @model_validator(mode="after")
    def _one_origin(self) -> CorpusConfig:
        if (self.source is None) == (self.derived_from is None):
            raise ValueError("exactly one of 'source' and 'derived_from' must be set")
        return self


class MixtureSource(StrictModel):
    """One component of a mixture."""

    corpus: str
    """Corpus id under configs/corpora/."""
    weight: float = Field(gt=0, le=1)
    """Share of training tokens drawn from this corpus."""

    _corpus = field_validator("corpus")(_slug)


class MixtureConfig(StrictModel):
    """A pretraining data mixture: corpus ids and token weights summing to 1."""

    id: str
    """Mixture id, equal to the file stem; the correlation unit of trained runs."""
    display_name: str
    """Human name for reports."""
    description: str = ""
    """What the mixture tests."""
    study: Literal["demo", "paper"]
    """Which grid the mixture belongs to."""
    web_source: str
    """The web corpus id (for web-source contrasts in fct_mixture_effects)."""
    proportions: list[float] = Field(min_length=3, max_length=3)
    """(web, code, curated) shares, as in the reference grid."""
    sources: list[MixtureSource] = Field(min_length=1)
    """Components and weights."""

    _id = field_validator("id")(_slug)

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> MixtureConfig:
        total = sum(source.weight for source in self.sources)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"sources: weights sum to {total:.6f}, expected 1")
        corpora = [source.corpus for source in self.sources]
        if len(set(corpora)) != len(corpora):
            raise ValueError("sources: a corpus is listed twice")
        return self


class ScaleConfig(StrictModel):
    """A model shape (Llama-style decoder); `n_params` is computed from it, never allocated."""

    scale: str
    """Scale name, equal to the file stem (`tiny`, `small`, `240M`, `1B`)."""
    n_params_nominal: int = Field(gt=0)
    """The size the name claims, for sorting and for the 10% check."""
    n_layer: int = Field(gt=0)
    """Transformer blocks."""
    d_model: int = Field(gt=0)
    """Residual width."""
    n_head: int = Field(gt=0)
    """Attention heads."""
    n_kv_head: int | None = None
    """Key/value heads (grouped-query attention); None means n_head."""
    head_dim: int = Field(gt=0)
    """Width of one head (vLLM's CPU attention rejects 16; use >= 32)."""
    ffn_dim: int = Field(gt=0)
    """Hidden width of the gated MLP."""
    seq_len: int = Field(gt=0)
    """Training context length."""
    vocab_size: int = Field(gt=0)
    """Tokenizer vocabulary size (4k-16k keeps the CPU demo fast)."""
    tie_embeddings: bool = True
    """Share input embedding and LM head."""
    rope_theta: float = 10000.0
    """Rotary base."""
    nominal_counts: Literal["total", "non_embedding"] = "total"
    """Which count the name refers to: the paper's 240M is total, its 1B is non-embedding."""
    description: str = ""
    """Where the shape comes from and what it is for."""

    _scale = field_validator("scale")(check_scale)

    @property
    def n_embedding_params(self) -> int:
        """Input embedding (plus the LM head when untied), counted from the shape."""
        return self.vocab_size * self.d_model * (1 if self.tie_embeddings else 2)

    @property
    def n_params_non_embedding(self) -> int:
        """Parameters of the blocks and the final norm (a bias-free Llama decoder)."""
        kv_heads = self.n_kv_head or self.n_head
        attention = self.d_model * self.head_dim * (2 * self.n_head + 2 * kv_heads)
        mlp = 3 * self.d_model * self.ffn_dim
        norms = 2 * self.d_model
        return self.n_layer * (attention + mlp + norms) + self.d_model

    @property
    def n_params(self) -> int:
        """Total parameters of the model built from this shape, without allocating it."""
        return self.n_embedding_params + self.n_params_non_embedding

    @property
    def n_params_counted(self) -> int:
        """The count the name claims (`nominal_counts`), compared with n_params_nominal."""
        if self.nominal_counts == "non_embedding":
            return self.n_params_non_embedding
        return self.n_params

    @model_validator(mode="after")
    def _heads_divide(self) -> ScaleConfig:
        kv_heads = self.n_kv_head or self.n_head
        if self.n_head % kv_heads:
            raise ValueError(f"n_kv_head: {kv_heads} must divide n_head={self.n_head}")
        return self


SdpaKernel = Literal["FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "MATH"]
"""torch.nn.attention.SDPBackend names a recipe may hold SDPA to."""


class OptimSettings(StrictModel):
    """Optimiser, schedule, batch and checkpoint settings shared by both stages."""

    global_batch_size: int = Field(gt=0)
    """Sequences (pretrain) or examples (SFT) per optimizer step, over all processes."""
    micro_batch_size: int = Field(gt=0)
    """Rows per forward pass on one process; gradient accumulation makes up the rest."""
    lr: float = Field(gt=0)
    """Peak learning rate (AdamW)."""
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    """The cosine ends at lr * min_lr_ratio."""
    warmup_fraction: float = Field(0.05, ge=0, lt=1)
    """Share of the steps spent in linear warmup (at least one step when > 0)."""
    weight_decay: float = Field(0.1, ge=0)
    """AdamW decoupled weight decay (applied to matrices, not to norms)."""
    beta1: float = Field(0.9, gt=0, lt=1)
    """AdamW beta1."""
    beta2: float = Field(0.95, gt=0, lt=1)
    """AdamW beta2."""
    eps: float = Field(1e-8, gt=0)
    """AdamW epsilon."""
    grad_clip: float = Field(1.0, ge=0)
    """Clip the global gradient norm to this; 0 disables clipping."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """`auto`: bf16 autocast where the device supports it (CUDA), else fp32."""
    checkpoint_every: int = Field(0, ge=0)
    """Write `step-<N>/` every this many steps (resume points); 0 = only `final/`."""
    keep_last: int | None = Field(None, gt=0)
    """Periodic checkpoints kept on disk; None keeps all."""
    log_every: int = Field(1, gt=0)
    """Steps between rows of lake/training_metrics (the last step is always logged)."""
    compile: bool = False
    """Wrap the model in torch.compile (GPU runs; a fixed cost of ~40-90 s)."""
    compile_scope: Literal["model", "layers"] = "model"
    """With compile: `model` compiles the whole model; `layers` each decoder layer alone
    (regional compile: one graph reused by every layer, the chunked loss left eager)."""
    sdpa_kernels: list[SdpaKernel] | None = None
    """SDPA backends training may use on CUDA (e.g. [FLASH_ATTENTION, EFFICIENT_ATTENTION]:
    cuDNN's kernels ran 3.5-4.7x slower under compile on an H200); None = torch's choice."""
    fused_adamw: bool = True
    """Fused AdamW (one kernel per step) where every parameter is on CUDA; foreach otherwise."""
    fsdp: bool = False
    """Shard parameters with FSDP instead of DDP under torchrun (1B and up)."""


class PretrainSettings(OptimSettings):
    """Pretraining on a mixture (`--set train.<field>=value`)."""

    train_tokens: int = Field(gt=0)
    """Tokens to train on: steps = train_tokens // (global_batch_size * seq_len)."""
    max_steps: int | None = Field(None, gt=0)
    """Stop after this many steps instead (smoke tests); None = from train_tokens."""
    seq_len: int | None = Field(None, gt=0)
    """Packed sequence length; None = the scale's seq_len."""


class SftSettings(OptimSettings):
    """Supervised fine-tuning on chat data (`--set sft.<field>=value`)."""

    datasets: list[str] = Field(min_length=1)
    """Chat dataset ids (lake/chat_examples) used unless the command names others."""
    max_examples: int | None = Field(None, gt=0)
    """Examples drawn (seeded) from the datasets together; None = all."""
    epochs: int = Field(gt=0)
    """Passes over the examples (paper: 5 at 240M, 10 at 1B)."""
    max_seq_len: int | None = Field(None, gt=0)
    """Examples are truncated to this many tokens; None = the scale's seq_len."""

    @field_validator("datasets")
    @classmethod
    def _dataset_slugs(cls, value: list[str]) -> list[str]:
        return [check_slug(item, "datasets") for item in value]


class RecipeConfig(StrictModel):
    """How one stage trains (configs/recipes/): a `train` section or an `sft` section."""

    id: str
    """Recipe id, equal to the file stem."""
    stage: Literal["pretrain", "sft"]
    """Which stage it trains."""
    description: str = ""
    """What the recipe is for and where its numbers come from."""
    train: PretrainSettings | None = None
    """Pretraining settings; set exactly when stage is `pretrain`."""
    sft: SftSettings | None = None
    """Fine-tuning settings; set exactly when stage is `sft`."""

    _id = field_validator("id")(_slug)

    @model_validator(mode="after")
    def _section_matches_stage(self) -> RecipeConfig:
        wanted = "train" if self.stage == "pretrain" else "sft"
        other = "sft" if wanted == "train" else "train"
        if getattr(self, wanted) is None:
            raise ValueError(f"{wanted}: a {self.stage} recipe needs a '{wanted}' section")
        if getattr(self, other) is not None:
            raise ValueError(f"{other}: not allowed in a {self.stage} recipe")
        return self


class ChatDatasetConfig(StrictModel):
    """An SFT dataset converted to Tulu-v2 `messages` (configs/chat/; xstage ingest chat ID)."""

    id: str
    """Chat dataset id, equal to the file stem; the `dataset=` partition of chat_examples."""
    display_name: str
    """Human name for reports."""
    source: DatasetSource
    """Dataset split to read (hub id; $XSTAGE_HF_MIRROR serves it offline)."""
    format: Literal["alpaca", "lima", "messages"]
    """Row shape: `alpaca` (instruction, input, output), `lima` (conversations: alternating
    user/assistant strings) or `messages` (already Tulu-v2 role/content lists)."""
    license: str
    """Licence of the underlying data."""
    description: str = ""
    """What the dataset stands for in the study."""

    _id = field_validator("id")(_slug)


# DuckDB's memory_limit syntax: a number with a unit (10GiB, 800MB) or a share of RAM (50%)
MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*(%|[KMGT]i?B)", re.IGNORECASE)


class WarehouseConfig(StrictModel):
    """configs/warehouse/default.yaml: how much of the machine one warehouse build may use."""

    id: str
    """Config id, equal to the file stem (`xstage build` reads `default`)."""
    memory_limit: str = "50%"
    """DuckDB memory_limit: a size (`10GiB`) or a share of this machine's RAM (`50%`). Past it,
    joins, aggregates and sorts spill to temp_directory; Python and dbt need the rest."""
    temp_directory: str = "cache/duckdb_tmp"
    """Where DuckDB spills; a relative path is under the data dir ($XSTAGE_DATA_DIR)."""
    threads: int | None = Field(None, ge=1)
    """DuckDB worker threads; None: one per CPU core (DuckDB's default)."""
    dbt_threads: int = Field(4, ge=1)
    """Models dbt runs at once (each a DuckDB query sharing the threads above)."""
    preserve_insertion_order: bool = False
    """DuckDB keeps query output in input order only when True; False lets big inserts stream
    with less memory (no mart depends on row order: every ordering is an explicit ORDER BY)."""

    @field_validator("memory_limit")
    @classmethod
    def _memory_limit(cls, value: str) -> str:
        if not MEMORY_LIMIT.fullmatch(value.strip()):
            raise ValueError(f"{value!r}: expected a size such as '10GiB' or a share such as '50%'")
        return value.strip()


# Kind folder -> its config model, for `xstage validate` and `xstage ls`. Study configs are not
# here: they belong to the runner (runner.study_config.CONFIG_KINDS adds them).
CONFIG_KINDS: dict[str, type[StrictModel]] = {
    "benchmarks": BenchmarkConfig,
    "corpora": CorpusConfig,
    "mixtures": MixtureConfig,
    "scales": ScaleConfig,
    "recipes": RecipeConfig,
    "chat": ChatDatasetConfig,
    "warehouse": WarehouseConfig,
}
