"""A scorer killed with SIGKILL mid-benchmark leaves no partial leaf, and a rerun yields the
same predictions as an uninterrupted run (a real subprocess, a real kill)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from scoring.external import score_model
from xstage import lake

XSTAGE = Path(sys.executable).parent / "xstage"
ARGS = ["--run-id", "kill_run", "--scale", "1M", "--batch-tokens", "16"]


def leaf(benchmark):
    return lake.predictions_path("1M", "kill_run", 0, "pretrain", benchmark, 0)


def without_time(path):
    return (
        pq.read_table(path)
        .drop_columns(["scored_at"])
        .sort_by([("item_id", "ascending"), ("choice_index", "ascending")])
    )


@pytest.mark.slow
def test_sigkill_mid_benchmark_then_rerun_equals_an_uninterrupted_run(
    tiny_model_dir, toy_lake, data_dir, tmp_path, monkeypatch
):
    command = [
        str(XSTAGE),
        "score",
        "--model",
        str(tiny_model_dir),
        *ARGS,
        "--benchmark",
        "toy_rc",
        "--benchmark",
        "toy_big",
    ]
    process = subprocess.Popen(
        command, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while not leaf("toy_rc").exists():
            assert process.poll() is None, "scorer exited before the first leaf"
            assert time.monotonic() < deadline, "first leaf never appeared"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    # Killed while scoring toy_big (600 items one row at a time): nothing of it is visible.
    assert not leaf("toy_big").exists()
    assert (
        not list(leaf("toy_big").parent.glob("*.parquet"))
        if leaf("toy_big").parent.exists()
        else True
    )

    summary = score_model(
        tiny_model_dir, "kill_run", "1M", benchmarks=["toy_rc", "toy_big"], batch_tokens=16
    )
    assert [(entry.benchmark, entry.status) for entry in summary.leaves] == [
        ("toy_rc", "skipped"),
        ("toy_big", "written"),
    ]
    resumed = {name: without_time(leaf(name)) for name in ("toy_rc", "toy_big")}
    assert not list(leaf("toy_big").parent.glob(".*.tmp"))

    monkeypatch.setenv("XSTAGE_DATA_DIR", str(tmp_path / "clean"))
    (tmp_path / "clean").mkdir()
    lake_src = data_dir / "lake" / "benchmark_items"
    (tmp_path / "clean" / "lake").mkdir()
    os.symlink(lake_src, tmp_path / "clean" / "lake" / "benchmark_items")
    score_model(tiny_model_dir, "kill_run", "1M", benchmarks=["toy_rc", "toy_big"], batch_tokens=16)
    for name, table in resumed.items():
        assert table.equals(without_time(leaf(name))), name
