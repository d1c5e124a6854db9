"""The prepared GPU check runs end to end on CPU (--smoke) and its packed path is exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_score_check.py"


@pytest.mark.slow
def test_gpu_score_check_smoke_runs_on_cpu_and_matches_the_naive_path(tmp_path):
    out = tmp_path / "check.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--out", str(out)],
        check=True,
        env=env,
        timeout=600,
        capture_output=True,
    )
    report = json.loads(out.read_text())
    assert [row["items"] for row in report["results"]] == ["hellaswag", "arc"]
    for row in report["results"]:
        assert row["max_abs_diff"] < 1e-4
        assert row["argmax_agreement"] == 1.0
        assert row["packed_items_per_s"] > 0
        assert row["naive_items_per_s"] > 0


SESSION = SCRIPT.parent / "gpu_session.sh"


def _session(tmp_path: Path, steps: str, smoke: bool) -> tuple[int, list[list[str]]]:
    out = tmp_path / ("smoke" if smoke else "gpu")
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OUT": str(out),
        "PYTHON": sys.executable,
        "GPU_SESSION_SMOKE": "1" if smoke else "0",
        "GPU_SESSION_STEPS": steps,
        "GPU_SESSION_WHEELS": str(tmp_path / "no_wheels"),  # this venv has pydantic already
    }
    done = subprocess.run(
        ["bash", str(SESSION)], cwd=SESSION.parents[1], env=env, timeout=300, capture_output=True
    )
    rows = [line.split("\t") for line in (out / "steps.tsv").read_text().splitlines()[1:]]
    assert (out / "session.log").stat().st_size > 0
    return done.returncode, rows


@pytest.mark.slow
def test_gpu_session_runs_its_steps_and_reports_failures(tmp_path):
    rc, rows = _session(tmp_path, "env train_eager", smoke=True)
    assert rc == 0
    assert [(name, code) for name, code, _ in rows] == [("env", "0"), ("train_eager", "0")]
    (result,) = json.loads((tmp_path / "smoke" / "train_eager.json").read_text())
    assert result["scale"] == "tiny"
    assert result["tokens_per_s"] > 0
    import torch

    if not torch.cuda.is_available():  # the GPU step fails here; the run goes on
        rc, rows = _session(tmp_path, "score_check train_eager", smoke=False)
        assert rc == 1
        assert [(name, code) for name, code, _ in rows] == [
            ("score_check", "1"),
            ("train_eager", "1"),
        ]


@pytest.mark.slow
def test_gpu_session_score_shapes_runs_each_variant_in_its_own_process(tmp_path):
    rc, rows = _session(tmp_path, "score_shapes", smoke=True)
    variants = ["scorer", "default", "naive", "efficient"]
    assert rc == 0
    assert [(name, code) for name, code, _ in rows] == [
        (f"score_shapes.{variant}", "0") for variant in variants
    ]
    for variant in variants:
        report = json.loads((tmp_path / "smoke" / f"score_shapes_{variant}.json").read_text())
        (row,) = report["results"]
        assert (row["variant"], row["n_items"]) == (variant, 32)
        assert min(row["first_items_per_s"], row["repeat_items_per_s"]) > 0
        assert row["distinct_batch_shapes"] >= 2
    assert row["attention"] == ["EFFICIENT_ATTENTION"]
    scorer = json.loads((tmp_path / "smoke" / "score_shapes_scorer.json").read_text())
    assert scorer["results"][0]["max_abs_diff"] < 1e-4  # fp32 on CPU: packed == naive
    assert scorer["results"][0]["argmax_agreement"] == 1.0
