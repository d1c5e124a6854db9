"""`xstage run --executor slurm` on a real single-node Slurm gives the marts of `--executor local`.

The cluster is the one `make test` starts (.ci/slurm start DIR; XSTAGE_SLURM_DIR=DIR): real
slurmctld, slurmd and munged. The study is the shrunken demo (tiny scale, 4 mixtures, 3
benchmarks). Every CLI runs as a real subprocess. Ground truth for "no duplicate jobs" is the
controller itself: `squeue -t all` lists every job of the hour (MinJobAge) with its tag.
Order of events: the tokenizer alone, before its corpora exist, fails (status shows `failed`
and the log); the full study is then submitted, its submitter SIGKILLed once right after its
first `sbatch` and once mid-study; a rerun finishes it. The failed step is resubmitted once,
every other step is submitted exactly once, and the warehouse equals a local run's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import yaml

pytestmark = pytest.mark.slow

XSTAGE = str(Path(sys.executable).with_name("xstage"))
MARTS = ("fct_cross_stage_transfer", "fct_benchmark_scores")
UNFINISHED = ("failed", "queued", "running", "pending")


@pytest.fixture
def slurm_conf() -> Path:
    """The test cluster's slurm.conf; skips only with the reason `.ci/slurm` wrote."""
    state = os.environ.get("XSTAGE_SLURM_DIR", "")
    if not state:
        pytest.fail(
            "no Slurm cluster: `make test` starts one (.ci/slurm start DIR; XSTAGE_SLURM_DIR=DIR)"
        )
    note = Path(state) / "unavailable"
    if note.is_file():
        pytest.skip(f"no Slurm: {note.read_text().strip()}")
    return Path(state) / "etc" / "slurm.conf"


def env_for(data_dir: Path, conf: Path, **extra: str) -> dict[str, str]:
    return os.environ | {"XSTAGE_DATA_DIR": str(data_dir), "SLURM_CONF": str(conf)} | extra


def xstage(*args: str, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([XSTAGE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def our_jobs(env: dict, data_dir: Path) -> list[tuple[str, str, str]]:
    """(job id, state, step) of every job tagged with this data dir, from squeue itself."""
    from runner.slurm_jobs import data_key

    prefix = f"xstage:{data_key(data_dir)}:mini:"
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i|%T|%k"], env=env, capture_output=True, text=True
    ).stdout
    rows = [line.split("|", 2) for line in out.splitlines()]
    return [(i, s, k[len(prefix) :].replace("/", " ")) for i, s, k in rows if k.startswith(prefix)]


def kill_when(proc: subprocess.Popen, ready, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the submitter ended before it could be killed"
        assert time.monotonic() < deadline, "the kill condition never came"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def mart_rows(data_dir: Path, mart: str) -> list[dict]:
    """A mart's rows, minus leaf fingerprints (ids of files, not results), in key order."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        columns = con.sql(f"describe marts.{mart}").fetchall()
        kept = [name for name, kind, *_ in columns if "fingerprint" not in name]
        keys = [name for name, kind, *_ in columns if name in kept and kind != "DOUBLE"]
        query = f"select {', '.join(kept)} from marts.{mart} order by {', '.join(keys)}"
        return [dict(zip(kept, row, strict=True)) for row in con.sql(query).fetchall()]


def assert_same_rows(one: list[dict], two: list[dict]) -> None:
    """Equal row for row; DOUBLEs to 1e-9 (DuckDB's parallel sums differ in the last bits)."""
    assert len(one) == len(two)
    for left, right in zip(one, two, strict=True):
        floats = {k for k, v in left.items() if isinstance(v, float)}
        assert {k: v for k, v in left.items() if k not in floats} == {
            k: v for k, v in right.items() if k not in floats
        }
        assert {k: left[k] for k in floats} == pytest.approx(
            {k: right[k] for k in floats}, rel=1e-9, abs=1e-12, nan_ok=True
        )


@pytest.fixture
def slurm_study(mini_study: Path) -> Path:
    """The mini study on 3 mixtures of one web source (3 corpora): fewer jobs, same shape."""
    data = yaml.safe_load(mini_study.read_text())
    data["mixtures"] = ["demo_minimal_65_25_10", "demo_minimal_45_35_20", "demo_minimal_25_45_30"]
    mini_study.write_text(yaml.safe_dump(data))
    return mini_study


def test_slurm_study_equals_local_and_survives_a_killed_submitter(
    slurm_study, tmp_path, slurm_conf, request
):
    from runner.study_config import load_study
    from runner.study_plan import plan_study

    mini_study = slurm_study
    config, path = load_study(mini_study)
    plan = plan_study(config, path)
    data = tmp_path / "slurm"
    env = env_for(data, slurm_conf)
    # The local run shares the cores with the jobs from the start: it fills their idle gaps.
    local_args = [XSTAGE, "run", str(mini_study), "--executor", "local", "--jobs", "2"]
    local_env = env_for(tmp_path / "local", slurm_conf)
    with (tmp_path / "local.log").open("wb") as local_log:
        local = subprocess.Popen(local_args, env=local_env, stdout=local_log, stderr=local_log)
    request.addfinalizer(local.kill)  # a failing assertion below must not leave it running
    # 1. The tokenizer alone, before any corpus is ingested: its job fails; status shows the log.
    failed = xstage("run", str(mini_study), "--executor", "slurm", "--only", "tokenizer", env=env)
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert "study step 'tokenizer mini' (job " in failed.stderr
    status = xstage("status", str(mini_study), env=env)
    assert status.returncode == 0, status.stderr
    line = next(line for line in status.stdout.splitlines() if line.startswith("tokenizer mini"))
    log = Path(line.split(": failed (", 1)[1].rstrip(")"))
    assert "has no documents in the lake" in log.read_text()
    earlier = our_jobs(env, data)
    assert [(state, step) for _, state, step in earlier] == [("FAILED", "tokenizer mini")]

    # 2. The full study; SIGKILL the submitter right after its first sbatch, then mid-study.
    args = [XSTAGE, "run", str(mini_study), "--executor", "slurm"]
    logs = [(tmp_path / f"submit{i}.log").open("wb") for i in range(2)]
    first = subprocess.Popen(args, env=env, stdout=logs[0], stderr=logs[0])
    kill_when(first, lambda: len(our_jobs(env, data)) > len(earlier))
    submitted_before_kill = len(our_jobs(env, data)) - len(earlier)
    assert submitted_before_kill < len(plan.steps)  # killed with submissions still to make
    second = subprocess.Popen(args, env=env, stdout=logs[1], stderr=logs[1])
    kill_when(
        second, lambda: any(s == "RUNNING" for _, s, k in our_jobs(env, data) if "pretrain" in k)
    )
    midway = xstage("status", str(mini_study), env=env)
    assert " (job " in midway.stdout, midway.stdout  # queued or running, with its job id

    final = xstage("run", str(mini_study), "--executor", "slurm", env=env)
    assert final.returncode == 0, final.stderr[-3000:] + final.stdout[-3000:]

    # 3. Every step submitted once; the failed tokenizer once more. Nothing still queued.
    jobs = our_jobs(env, data)
    counts = Counter(step for _, _, step in jobs)
    expected = {s.name: 1 + (s.kind == "tokenizer") for s in plan.steps}
    assert counts == expected
    assert {state for _, state, _ in jobs} <= {"COMPLETED", "FAILED"}
    done = xstage("status", str(mini_study), env=env)
    lines = done.stdout.splitlines()
    assert not [line for line in lines if any(w in line for w in UNFINISHED)], done.stdout
    assert len(done.stdout.splitlines()) >= len(config.mixtures) * 2

    # 4. The same study run locally (started at the top, beside the cluster): the same marts.
    assert local.wait(timeout=900) == 0, (tmp_path / "local.log").read_text()[-3000:]
    for mart in MARTS:
        slurm_rows = mart_rows(data, mart)
        assert slurm_rows, mart
        assert_same_rows(slurm_rows, mart_rows(tmp_path / "local", mart))
