"""Lake rows written by training: training_metrics per logged step, runs per checkpoint.

Used by: xstage train and xstage sft. Each leaf has one writer (the run's rank 0), rewritten
whole and atomically at every checkpoint, so it always matches the checkpoints on disk.
"""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
from pathlib import Path

import pyarrow as pa

from xstage import lake, schemas


def utc_now() -> dt.datetime:
    """Timezone-aware now, as the lake stores timestamps."""
    return dt.datetime.now(dt.UTC)


@functools.cache
def git_sha() -> str | None:
    """The commit of the code that trains (None outside a git checkout)."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def device_name(device) -> str:
    """`cpu (2 threads)` or the CUDA device's product name, times the world size."""
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def write_metrics(rows: list[dict], scale: str, mixture: str, seed: int, stage: str) -> Path:
    """Rewrite the run's training_metrics leaf with every row logged so far."""
    table = pa.Table.from_pylist(rows, schema=schemas.TRAINING_METRICS)
    path = lake.training_metrics_path(scale, mixture, seed, stage)
    return lake.write_parquet(table, path, schemas.TRAINING_METRICS)


def write_runs(rows: list[dict], run_id: str, stage: str) -> Path:
    """Rewrite the run's runs leaf: one row per checkpoint written so far."""
    table = pa.Table.from_pylist(rows, schema=schemas.RUNS)
    return lake.write_parquet(table, lake.runs_path(run_id, stage), schemas.RUNS)


def runs_row(meta: dict, checkpoint_dir: Path) -> dict:
    """The lake/runs row of one checkpoint, from its meta.json."""
    return {
        "run_id": meta["run_id"],
        "scale": meta["scale"],
        "n_params_nominal": meta["n_params_nominal"],
        "n_params": meta["n_params"],
        "mixture": meta["mixture"],
        "seed": meta["seed"],
        "stage": meta["stage"],
        "origin": "train" if meta["stage"] == "pretrain" else "sft",
        "checkpoint_step": meta["checkpoint_step"],
        "n_tokens_seen": meta["n_tokens_seen"],
        "checkpoint_path": str(checkpoint_dir),
        "checkpoint_sha256": meta["checkpoint_sha256"],
        "tokenizer_hash": meta["tokenizer_hash"],
        "config_hash": meta["config_hash"],
        "git_sha": meta["git_sha"],
        "device": meta["device"],
        "wall_seconds": meta["wall_seconds"],
        "created_at": dt.datetime.fromisoformat(meta["created_at"]),
    }
