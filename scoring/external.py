"""Score an outside Hugging Face model directory as its own run, with a lake/runs row.

Used by: xstage score --model PATH --run-id NAME [--scale S] [--unit U] [--stage ...].
The runs row (origin 'score') carries provenance: weights sha256, tokenizer and config
hashes, parameter count, device and wall seconds (DESIGN §4).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from scoring.backends.base import TOKENIZER_FILES, ModelDirError, check_model_dir
from scoring.score import GROUP_ITEMS, Checkpoint, ScoreSummary, score_checkpoint
from xstage import lake
from xstage.ids import check_name, check_run_id, check_scale, check_stage
from xstage.run_record import SCALE_UNITS, RunRecord, git_sha, nominal_params, write_runs

WEIGHT_PATTERNS = ("*.safetensors", "*.bin")


def files_sha256(paths: Sequence[Path]) -> str | None:
    """sha256 over the named files' bytes, in name order; None when there are none."""
    if not paths:
        return None
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def count_parameters(model_dir: Path) -> int | None:
    """Parameters from the safetensors headers (no weights loaded); None without safetensors."""
    total, found = 0, False
    for path in model_dir.glob("*.safetensors"):
        for name, info in _safetensors_header(path).items():
            if name != "__metadata__":
                found = True
                count = 1
                for dim in info["shape"]:
                    count *= dim
                total += count
    return total if found else None


def _safetensors_header(path: Path) -> dict:
    """The JSON header of a safetensors file; ModelDirError (one line) when it is unreadable."""
    try:
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        return header
    except (OSError, ValueError, UnicodeDecodeError, MemoryError, OverflowError) as exc:
        raise ModelDirError(
            f"{path}: unloadable weights, not a readable safetensors file ({exc}); "
            f"re-download or re-save the model"
        ) from None


def scale_label(n_params: int | None) -> str:
    """A scale name from a parameter count: 134.5M -> `135M`, 1.2B -> `1B`, 0.9M -> `900K`."""
    if not n_params:
        raise ValueError("cannot infer --scale: no safetensors weights to count; pass --scale")
    for suffix in ("B", "M", "K"):
        if n_params >= SCALE_UNITS[suffix]:
            return f"{round(n_params / SCALE_UNITS[suffix])}{suffix}"
    return "1K"


def run_record(checkpoint: Checkpoint, run_id: str, device: str, wall_seconds: float) -> RunRecord:
    """The lake/runs row of an outside model scored here (origin 'score')."""
    path = checkpoint.path
    weights = [p for pattern in WEIGHT_PATTERNS for p in path.glob(pattern)]
    tokenizer_files = [path / name for name in TOKENIZER_FILES if (path / name).is_file()]
    return RunRecord(
        run_id=run_id,
        scale=checkpoint.scale,
        mixture=checkpoint.mixture,
        seed=checkpoint.seed,
        stage=checkpoint.stage,
        origin="score",
        checkpoint_step=checkpoint.step,
        created_at=datetime.now(UTC),
        n_params_nominal=nominal_params(checkpoint.scale),
        n_params=count_parameters(path),
        checkpoint_path=str(path),
        checkpoint_sha256=files_sha256(weights),
        tokenizer_hash=files_sha256(tokenizer_files),
        config_hash=files_sha256([path / "config.json"]),
        git_sha=git_sha(),
        device=device,
        wall_seconds=wall_seconds,
    )


def score_model(
    model_dir: Path,
    run_id: str,
    scale: str | None = None,
    unit: str | None = None,
    seed: int = 0,
    stage: str = "pretrain",
    checkpoint_step: int = 0,
    benchmarks: Sequence[str] | None = None,
    backend: str = "hf",
    limit: int | None = None,
    overwrite: bool = False,
    group_items: int = GROUP_ITEMS,
    pmi: bool = False,
    **backend_options: object,
) -> ScoreSummary:
    """Score an outside model dir filed as run `run_id` (unit = the `mixture` partition key).

    Without `scale` the label comes from the parameter count (SmolLM2-135M -> `135M`).

    Writes lake/runs/part-<run_id>__<stage>.parquet when a leaf was written or the row is
    missing; leaves that exist are skipped unless `overwrite`.
    """
    check_run_id(run_id, "run_id")
    unit = check_name(unit or run_id, "unit")
    stage = str(check_stage(stage))
    path = check_model_dir(Path(model_dir))
    scale = check_scale(scale or scale_label(count_parameters(path)), "scale")
    checkpoint = Checkpoint(path, scale, unit, seed, stage, checkpoint_step)
    summary = score_checkpoint(
        checkpoint, benchmarks, backend, limit, overwrite, group_items, pmi, **backend_options
    )
    runs_path = lake.runs_path(run_id, stage)
    if summary.n_written or not runs_path.exists():
        device = str(backend_options.get("device", "cpu"))
        write_runs([run_record(checkpoint, run_id, device, summary.seconds)])
    return summary
