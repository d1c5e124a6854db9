"""DDP on CPU for real: 2 gloo processes follow the 1-process loss curve at one global batch."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from xstage import lake

MIXTURE = "demo_minimal_45_35_20"


def _train(launcher: list[str], sets: dict, tokenizer: Path, env: dict) -> list[dict]:
    args = [*launcher, "train", "--scale", "tiny", "--mixture", MIXTURE]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    done = subprocess.run(
        [*args, "--tokenizer", str(tokenizer)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    path = lake.training_metrics_path("tiny", MIXTURE, 0, "pretrain", Path(env["XSTAGE_DATA_DIR"]))
    return pq.read_table(path).to_pylist()


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_ddp_and_fsdp(
    small_tokenizer: Path, tiny_sets: dict, data_dir: Path
) -> None:
    import os

    # 8 sequences per step: 1 process x 4 micro-batches of 2, or 2 processes x 2 of 2.
    sets = {
        **tiny_sets,
        "train.max_steps": 8,
        "train.global_batch_size": 8,
        "train.micro_batch_size": 2,
    }
    other = data_dir.parent / "ddp"
    shutil.copytree(data_dir / "lake" / "documents", other / "lake" / "documents")
    base = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = _train([sys.executable, "-m", "training"], sets, small_tokenizer, base)
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "training",
    ]
    double = _train(torchrun, sets, small_tokenizer, {**base, "XSTAGE_DATA_DIR": str(other)})
    assert [row["step"] for row in double] == [row["step"] for row in single] == list(range(1, 9))
    for one, two in zip(single, double, strict=True):
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
        assert two["grad_norm"] == pytest.approx(one["grad_norm"], rel=1e-4)
        assert two["tokens_seen"] == one["tokens_seen"]
    assert single[-1]["loss"] < single[0]["loss"]
    # FSDP (train.fsdp=true) shards the same model over the same 2 processes: same curve.
    sharded_dir = data_dir.parent / "fsdp"
    shutil.copytree(data_dir / "lake" / "documents", sharded_dir / "lake" / "documents")
    sharded_env = {**base, "XSTAGE_DATA_DIR": str(sharded_dir)}
    sharded = _train(torchrun, {**sets, "train.fsdp": True}, small_tokenizer, sharded_env)
    for one, fsdp in zip(single, sharded, strict=True):
        assert fsdp["loss"] == pytest.approx(one["loss"], rel=1e-5)
    meta = (
        other / "runs" / "tiny__demo_minimal_45_35_20__seed0" / "pretrain" / "final" / "meta.json"
    )
    assert "x2" in meta.read_text()
