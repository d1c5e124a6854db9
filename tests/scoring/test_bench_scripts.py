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
