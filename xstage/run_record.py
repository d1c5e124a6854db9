"""A checkpoint's `meta.json` and a `lake/runs` row as typed records, and their shared provenance.

Used by: xstage train / sft (meta.json per checkpoint, a runs row per checkpoint), xstage score
(reads a checkpoint's identity; files an outside model with origin 'score'), xstage import
(origin 'import') and xstage run (which study steps are done). One definition here instead of a
copy per stage: the stages may not import each other (docs/contributing.md).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError

from xstage import lake, schemas

META_FILE = "meta.json"
SCALE_UNITS = {"K": 10**3, "M": 10**6, "B": 10**9}
Origin = Literal["train", "sft", "score", "import"]


def nominal_params(scale: str | None) -> int | None:
    """`14M` -> 14_000_000, `1.4B` -> 1_400_000_000; `tiny`, `small` and group names: None."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMB])", scale or "")
    return round(float(match.group(1)) * SCALE_UNITS[match.group(2)]) if match else None


@functools.cache
def git_sha() -> str | None:
    """The commit of this xstage checkout (None outside a git checkout or without git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


class CheckpointMetaError(ValueError):
    """A checkpoint's meta.json is missing or unreadable; the message names the file and field."""


class CheckpointMeta(BaseModel):
    """The `meta.json` training writes beside each checkpoint: identity, counts, provenance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    stage: Literal["pretrain", "sft"]
    scale: str
    mixture: str
    seed: int
    checkpoint_step: int
    """Optimizer steps taken when the checkpoint was written."""
    n_tokens_seen: int
    config_hash: str
    """sha256 of the resolved config; a rerun with another config refuses to reuse it."""
    tokenizer_hash: str
    n_params: int
    n_params_non_embedding: int
    n_params_nominal: int
    recipe: str
    study: str
    seq_len: int
    wall_seconds: float
    created_at: dt.datetime
    device: str
    git_sha: str | None
    checkpoint_sha256: str
    """sha256 of the weight files, added when the checkpoint is saved."""
    datasets: list[str] | None = None
    """SFT only, as are the fields below: the chat datasets it was tuned on."""
    n_examples: int | None = None
    epochs: int | None = None
    parent_checkpoint: str | None = None
    """The pretrained checkpoint an SFT run started from, and its weights' sha256."""
    parent_sha256: str | None = None

    def to_json(self) -> str:
        """The file's text: sorted keys, indented, timestamps in ISO 8601."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True)


def read_checkpoint_meta(checkpoint_dir: Path) -> CheckpointMeta:
    """The typed meta.json of a finished checkpoint; an error names the file and the bad field."""
    path = checkpoint_dir / META_FILE
    if not path.is_file():
        raise CheckpointMetaError(f"{checkpoint_dir}: not a finished checkpoint (no {META_FILE})")
    try:
        return CheckpointMeta.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        fields = "; ".join(
            f"field {'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise CheckpointMetaError(f"{path}: unreadable checkpoint meta: {fields}") from None


@dataclass(frozen=True)
class RunRecord:
    """One `lake/runs` row: a checkpoint (trained, scored from outside, or imported) and its provenance.

    Field for field the columns of `schemas.RUNS`; what a writer cannot know stays None.
    """

    run_id: str
    scale: str
    mixture: str
    """The correlation unit: a mixture for trained runs, a family or any slug otherwise."""
    seed: int
    stage: str
    origin: Origin
    checkpoint_step: int
    created_at: dt.datetime
    n_params_nominal: int | None = None
    n_params: int | None = None
    n_tokens_seen: int | None = None
    checkpoint_path: str | None = None
    checkpoint_sha256: str | None = None
    tokenizer_hash: str | None = None
    config_hash: str | None = None
    git_sha: str | None = None
    device: str | None = None
    wall_seconds: float | None = None

    @classmethod
    def of_checkpoint(cls, meta: CheckpointMeta, checkpoint_dir: Path) -> RunRecord:
        """The row of a checkpoint trained here (origin `train` for pretrain, `sft` for SFT)."""
        return cls(
            **meta.model_dump(include=_META_COLUMNS),
            origin="train" if meta.stage == "pretrain" else "sft",
            checkpoint_path=str(checkpoint_dir),
        )


_META_COLUMNS = {
    "run_id", "scale", "mixture", "seed", "stage", "checkpoint_step", "created_at",
    "n_params_nominal", "n_params", "n_tokens_seen", "checkpoint_sha256", "tokenizer_hash",
    "config_hash", "git_sha", "device", "wall_seconds",
}  # fmt: skip


def runs_table(records: Sequence[RunRecord]) -> pa.Table:
    """The records as a table with the lake's `runs` schema."""
    return pa.Table.from_pylist([asdict(record) for record in records], schema=schemas.RUNS)


def write_runs(records: Sequence[RunRecord], root: Path | None = None) -> Path:
    """Rewrite one run x stage's runs leaf, atomically, with these records (all of that leaf)."""
    keys = {(record.run_id, record.stage) for record in records}
    assert len(keys) == 1, f"one runs leaf holds one run x stage, got {sorted(keys)}"
    run_id, stage = keys.pop()
    path = lake.runs_path(run_id, stage, root)
    return lake.write_parquet(runs_table(records), path, schemas.RUNS)
