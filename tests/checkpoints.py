"""A checkpoint meta.json as training writes it, for tests that lay out a checkpoint by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from xstage.run_record import META_FILE, CheckpointMeta


def write_meta(checkpoint_dir: Path, **fields: object) -> CheckpointMeta:
    """Write a complete, valid meta.json into `checkpoint_dir`; `fields` override the defaults."""
    values = {
        "run_id": "tiny__demo_minimal_65_25_10__seed0",
        "stage": "pretrain",
        "scale": "tiny",
        "mixture": "demo_minimal_65_25_10",
        "seed": 0,
        "checkpoint_step": 120,
        "n_tokens_seen": 120 * 8 * 64,
        "config_hash": "c" * 64,
        "tokenizer_hash": "t" * 64,
        "n_params": 1_000_000,
        "n_params_non_embedding": 900_000,
        "n_params_nominal": 1_000_000,
        "recipe": "demo_pretrain_tiny",
        "study": "demo",
        "seq_len": 64,
        "wall_seconds": 1.5,
        "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "device": "cpu (2 threads) x1",
        "git_sha": None,
        "checkpoint_sha256": "w" * 64,
    }
    meta = CheckpointMeta.model_validate(values | fields)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    (checkpoint_dir / META_FILE).write_text(meta.to_json())
    return meta
