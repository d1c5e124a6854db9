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

from xstage import lake

XSTAGE = Path(sys.executable).parent / "xstage"
ARGS = ["--run-id", "kill_run", "--scale", "1M", "--batch-tokens", "16", "--group-items", "1"]


def leaf(benchmark):
    return lake.predictions_path("1M", "kill_run", 0, "pretrain", benchmark, 0)


def without_time(path):
    return (
        pq.read_table(path)
        .drop_columns(["scored_at"])
        .sort_by([("item_id", "ascending"), ("choice_index", "ascending")])
    )


def scorer(model_dir, env):
    command = [str(XSTAGE), "score", "--model", str(model_dir), *ARGS]
    command += ["--benchmark", "toy_rc", "--benchmark", "toy_big"]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def kill_after_first_leaf(process):
    deadline = time.monotonic() + 180
    try:
        while not leaf("toy_rc").exists():
            assert process.poll() is None, (
                f"scorer exited before the first leaf: {process.stdout.read()}"
            )
            assert time.monotonic() < deadline, "first leaf never appeared"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()


def finish(process):
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return output


@pytest.mark.slow
def test_sigkill_mid_benchmark_then_rerun_equals_an_uninterrupted_run(
    tiny_model_dir, toy_lake, data_dir, tmp_path
):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    kill_after_first_leaf(scorer(tiny_model_dir, env))
    # Killed while scoring toy_big (600 items one row at a time): nothing of it is visible.
    assert not leaf("toy_big").exists()
    assert (
        not list(leaf("toy_big").parent.glob("*.parquet"))
        if leaf("toy_big").parent.exists()
        else True
    )

    output = finish(scorer(tiny_model_dir, env))
    assert "skipped  toy_rc" in output
    assert "written  toy_big" in output
    resumed = {name: without_time(leaf(name)) for name in ("toy_rc", "toy_big")}
    assert not list(leaf("toy_big").parent.glob(".*.tmp"))

    clean = tmp_path / "clean"
    (clean / "lake").mkdir(parents=True)
    os.symlink(data_dir / "lake" / "benchmark_items", clean / "lake" / "benchmark_items")
    finish(scorer(tiny_model_dir, {**env, "XSTAGE_DATA_DIR": str(clean)}))
    for name, table in resumed.items():
        uninterrupted = without_time(clean / leaf(name).relative_to(data_dir))
        assert table.equals(uninterrupted), name
