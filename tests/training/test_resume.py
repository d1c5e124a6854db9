"""A run killed with SIGKILL resumes from its last checkpoint and ends as if never killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from training import pretrain
from xstage import lake

MIXTURE = "demo_quality_25_45_30"
RUN_ID = "tiny__demo_quality_25_45_30__seed0"
STEPS = 200


def _sets(tiny_sets: dict) -> dict:
    return {**tiny_sets, "train.max_steps": STEPS, "train.checkpoint_every": 10}


def _command(sets: dict, tokenizer: Path) -> list[str]:
    args = [sys.executable, "-m", "training", "train", "--scale", "tiny", "--mixture", MIXTURE]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    return [*args, "--tokenizer", str(tokenizer)]


def _metrics() -> tuple[list[int], list[float]]:
    table = pq.read_table(lake.training_metrics_path("tiny", MIXTURE, 0, "pretrain"))
    return table.column("step").to_pylist(), table.column("loss").to_pylist()


@pytest.mark.slow
def test_sigkilled_run_resumes_and_matches_an_uninterrupted_one(
    small_tokenizer: Path, tiny_sets: dict, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sets = _sets(tiny_sets)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the same single thread as this process
    stage_dir = lake.run_stage_dir(RUN_ID, "pretrain")
    process = subprocess.Popen(_command(sets, small_tokenizer), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(stage_dir.glob("step-*/meta.json")):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no periodic checkpoint within 120 s"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (stage_dir / "final").exists(), "the run finished before it could be killed"
    killed_at = max(int(p.name.split("-")[1]) for p in stage_dir.glob("step-*"))
    assert killed_at < STEPS
    visible = [p for p in stage_dir.iterdir() if not p.name.startswith(".")]
    for path in visible:  # every visible checkpoint is complete
        assert path.name == "config.json" or (path / "meta.json").is_file(), path

    rerun = subprocess.run(_command(sets, small_tokenizer), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming" in rerun.stderr
    assert not [p for p in stage_dir.iterdir() if p.name.startswith(".")]
    steps, losses = _metrics()
    assert steps == list(range(1, STEPS + 1))
    runs = pq.read_table(lake.runs_path(RUN_ID, "pretrain")).column("checkpoint_step").to_pylist()
    assert runs == [*range(10, STEPS, 10), STEPS]

    # The same run, never interrupted, in another data dir: the loss curve is the same curve.
    monkeypatch.setenv("XSTAGE_DATA_DIR", str(data_dir.parent / "reference"))
    import shutil

    shutil.copytree(data_dir / "lake" / "documents", data_dir.parent / "reference/lake/documents")
    result = pretrain.run(
        "tiny", MIXTURE, overrides=sets, tokenizer=small_tokenizer, show_progress=False
    )
    assert result.steps == STEPS
    reference_steps, reference_losses = _metrics()
    assert reference_steps == steps
    assert losses == pytest.approx(reference_losses, rel=1e-5, abs=1e-6)
