"""`xstage run --jobs 2` killed with SIGKILL mid-way, then rerun: it finishes without redoing steps.

A real subprocess runs a shrunken study (tiny scale, 4 mixtures, 3 small benchmarks, a few
training steps) through the real stages on two worker processes; the step log and output
mtimes show what ran when.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from xstage import lake

pytestmark = pytest.mark.slow

XSTAGE = str(Path(sys.executable).with_name("xstage"))


def step_events(data_dir: Path) -> list[dict]:
    path = data_dir / "studies" / "mini" / "steps.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def start_run(study: Path, data_dir: Path, log: Path) -> subprocess.Popen:
    env = os.environ | {"XSTAGE_DATA_DIR": str(data_dir), "COLUMNS": "160"}
    handle = log.open("wb")
    args = [XSTAGE, "run", str(study), "--jobs", "2"]
    return subprocess.Popen(args, env=env, stdout=handle, stderr=handle)


def kill_after_first_pretrain(proc: subprocess.Popen, data_dir: Path, timeout: float) -> None:
    """SIGKILL the runner once one pretrain step is done and the next one has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = step_events(data_dir)
        done = [e for e in events if e["kind"] == "pretrain" and e["event"] == "done"]
        started = [e for e in events if e["kind"] == "pretrain" and e["event"] == "started"]
        if done and len(started) >= 2:
            time.sleep(0.5)  # let it get inside the second run's training
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.1)
    proc.kill()
    pytest.fail("no pretrain step finished in time")


def test_killed_run_resumes_without_redoing_finished_steps(mini_study, tmp_path, data_dir):
    study = mini_study
    mixtures = yaml.safe_load(study.read_text())["mixtures"]
    first = start_run(study, data_dir, tmp_path / "first.log")
    kill_after_first_pretrain(first, data_dir, timeout=300)
    assert first.returncode == -signal.SIGKILL
    before = step_events(data_dir)
    finished = {e["step"] for e in before if e["event"] == "done"}
    pretrained = [e["step"] for e in before if e["kind"] == "pretrain" and e["event"] == "done"]
    assert 1 <= len(pretrained) < len(mixtures)
    first_meta = lake.run_stage_dir(pretrained[0].split()[1], "pretrain") / "final/meta.json"
    items = lake.benchmark_items_path("copa")
    mtimes = {path: path.stat().st_mtime_ns for path in (first_meta, items)}

    second = start_run(study, data_dir, tmp_path / "second.log")
    assert second.wait(timeout=600) == 0, (tmp_path / "second.log").read_text()[-3000:]
    after = step_events(data_dir)[len(before) :]
    rerun = {e["step"] for e in after if e["event"] == "started"}
    assert not rerun & finished, f"redone: {sorted(rerun & finished)}"
    skipped = {e["step"] for e in after if e["event"] == "skipped"}
    assert finished <= skipped
    assert {path: path.stat().st_mtime_ns for path in mtimes} == mtimes
    assert (lake.reports_dir("mini") / "index.html").is_file()
    assert json.loads((lake.study_dir("mini") / "study.json").read_text())["source"] == str(study)
    output = (tmp_path / "second.log").read_text()
    assert "cross-stage transfer" in output
    for mixture in mixtures:
        assert (lake.run_stage_dir(f"tiny__{mixture}__seed0", "sft") / "final/meta.json").is_file()

    third = start_run(study, data_dir, tmp_path / "third.log")
    assert third.wait(timeout=300) == 0, (tmp_path / "third.log").read_text()[-3000:]
    last = step_events(data_dir)[len(before) + len(after) :]
    assert {e["event"] for e in last} == {"skipped"}
    assert len(last) == len(after) - len(rerun)
