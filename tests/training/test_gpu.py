"""The CUDA path: bf16 autocast, fused AdamW, fp32 weights on disk (auto-skipped without CUDA)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from training import pretrain
from xstage import lake
from xstage.run_record import read_checkpoint_meta


@pytest.mark.gpu
def test_bf16_pretraining_on_cuda_learns_and_saves_fp32(
    small_tokenizer: Path, tiny_sets: dict
) -> None:
    import pyarrow.parquet as pq
    from transformers import AutoModelForCausalLM

    sets = {**tiny_sets, "train.max_steps": 30, "train.precision": "auto"}
    result = pretrain.run(
        "tiny", "demo_edu_45_35_20", overrides=sets, tokenizer=small_tokenizer, show_progress=False
    )
    metrics = pq.read_table(lake.training_metrics_path("tiny", "demo_edu_45_35_20", 0, "pretrain"))
    losses = metrics.column("loss").to_pylist()
    assert all(math.isfinite(loss) for loss in losses)
    assert sum(losses[-5:]) / 5 < losses[0] - 0.7
    meta = read_checkpoint_meta(result.checkpoint_dir)
    assert "cpu" not in meta.device
    model = AutoModelForCausalLM.from_pretrained(result.checkpoint_dir)
    assert str(next(model.parameters()).dtype) == "torch.float32"
