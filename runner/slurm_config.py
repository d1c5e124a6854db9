"""The `slurm:` block of a study config: what each study step asks Slurm for.

Used by: xstage run STUDY --executor slurm (one job per step, these resources) and
xstage run STUDY --executor slurm --dry-run (prints them), xstage validate.
A step's resources are `defaults`, then its kind's entry in `steps`, then that entry's
`scales` override for the run's scale: each later level replaces only the fields it sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from xstage.config import StrictModel
from xstage.ids import check_scale

StepKind = Literal["ingest", "tokenizer", "pretrain", "sft", "score", "build", "report"]
# Only these launch `torchrun` inside their job when given several GPUs (DDP / FSDP).
TORCHRUN_KINDS = ("pretrain", "sft")


class JobResources(StrictModel):
    """Resources of one Slurm job (one node, one task); unset fields fall back a level."""

    partition: str | None = None
    """Slurm partition (`--partition`); None = the cluster's default partition."""
    gpus: int | None = Field(None, ge=0)
    """GPUs on the job's node (`--gpus-per-node`); more than one makes training use torchrun."""
    cpus: int | None = Field(None, gt=0)
    """CPU cores of the job's task (`--cpus-per-task`); also its torch threads."""
    memory_gb: float | None = Field(None, gt=0)
    """Memory of the job in GiB (`--mem`)."""
    time_minutes: int | None = Field(None, gt=0)
    """Wall-clock limit (`--time`); Slurm ends the job after it."""


class StepResources(JobResources):
    """One step kind's resources, with per-scale overrides (a 1B run trains longer than 240M)."""

    scales: dict[str, JobResources] = Field(default_factory=dict)
    """Overrides for the steps of one scale (pretrain, sft, score), keyed by scale id."""

    @field_validator("scales")
    @classmethod
    def _scale_ids(cls, value: dict[str, JobResources]) -> dict[str, JobResources]:
        for scale in value:
            check_scale(scale, "scales key")
        return value


@dataclass(frozen=True)
class Resolved:
    """The resources one step's job asks for, every field set."""

    partition: str | None
    gpus: int
    cpus: int
    memory_gb: float
    time_minutes: int


FIELDS = ("partition", "gpus", "cpus", "memory_gb", "time_minutes")


class SlurmSpec(StrictModel):
    """Per-kind Slurm resources of a study's steps (`xstage run --executor slurm`)."""

    defaults: JobResources = Field(
        default_factory=lambda: JobResources(gpus=0, cpus=1, memory_gb=4, time_minutes=60)
    )
    """Resources of every step kind not listed in `steps` (and of unset fields of those)."""
    steps: dict[StepKind, StepResources] = Field(default_factory=dict)
    """Resources per step kind: ingest, tokenizer, pretrain, sft, score, build, report."""

    @model_validator(mode="after")
    def _complete_and_sane(self) -> SlurmSpec:
        missing = [name for name in FIELDS[1:] if getattr(self.defaults, name) is None]
        if missing:
            raise ValueError(f"slurm.defaults: set {', '.join(missing)}")
        for kind, entry in self.steps.items():
            if kind in TORCHRUN_KINDS:
                continue
            for where, level in [(kind, entry), *entry.scales.items()]:
                if (level.gpus or 0) > 1:
                    raise ValueError(
                        f"slurm.steps.{kind}: gpus {level.gpus} at {where!r}; only "
                        f"{' and '.join(TORCHRUN_KINDS)} use more than one GPU (torchrun)"
                    )
        return self

    def resolve(self, kind: str, scale: str | None = None) -> Resolved:
        """The job resources of one step: defaults, then its kind, then its scale."""
        levels: list[JobResources] = [self.defaults]
        entry = self.steps.get(kind)  # type: ignore[call-overload]
        if entry is not None:
            levels.append(entry)
            if scale is not None and scale in entry.scales:
                levels.append(entry.scales[scale])
        values: dict[str, object] = {}
        for level in levels:
            values |= {
                name: getattr(level, name) for name in FIELDS if getattr(level, name) is not None
            }
        values.setdefault("partition", None)
        return Resolved(**values)  # type: ignore[arg-type]
