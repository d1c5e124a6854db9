"""Lake rows written by training: training_metrics per logged step (runs rows: xstage.run_record).

Used by: xstage train and xstage sft. Each leaf has one writer (the run's rank 0), rewritten
whole and atomically at every checkpoint, so it always matches the checkpoints on disk.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from xstage import lake, schemas


def utc_now() -> dt.datetime:
    """Timezone-aware now, as the lake stores timestamps."""
    return dt.datetime.now(dt.UTC)


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
