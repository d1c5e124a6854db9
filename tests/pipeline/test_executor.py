"""`xstage run --jobs 2` (worker processes, DAG order) gives the same marts as `--jobs 1`.

Both runs are real subprocesses over the same shrunken study, each with its own data dir; the
cross-stage transfer mart of one must equal the other's row for row, value for value.
"""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from runner.study_config import load_study
from runner.study_plan import plan_study

pytestmark = pytest.mark.slow

XSTAGE = str(Path(sys.executable).with_name("xstage"))


def run_study(study: Path, data_dir: Path, jobs: int) -> str:
    env = os.environ | {"XSTAGE_DATA_DIR": str(data_dir), "COLUMNS": "160"}
    args = [XSTAGE, "run", str(study), "--jobs", str(jobs)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    return done.stderr


def transfer_rows(data_dir: Path) -> list[tuple]:
    """The cross-stage transfer mart, ordered by its key (every column but the floats)."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("select * from marts.fct_cross_stage_transfer").fetchall()
    return sorted(rows, key=lambda row: tuple(str(v) for v in row if not isinstance(v, float)))


def assert_same_rows(one: list[tuple], two: list[tuple]) -> None:
    """Equal row for row: keys exactly, floats to a relative 1e-9.

    DuckDB sums in parallel, in no fixed order, so two builds of one lake may differ in the
    last bits (seen: 0.3515707681392041 vs ...0407); rounding both to N digits is not enough,
    since a value beside a rounding boundary flips. The lakes themselves must be identical.
    """
    assert len(one) == len(two)
    for left, right in zip(one, two, strict=True):
        exact = [(a, b) for a, b in zip(left, right, strict=True) if not isinstance(a, float)]
        assert [a for a, _ in exact] == [b for _, b in exact]
        floats = [(a, b) for a, b in zip(left, right, strict=True) if isinstance(a, float)]
        assert [a for a, _ in floats] == pytest.approx(
            [b for _, b in floats], rel=1e-9, nan_ok=True
        )


def prediction_rows(data_dir: Path) -> list[tuple]:
    """Every scored choice's identity and log-probs, bit for bit (what the workers wrote)."""
    glob = str(data_dir / "lake" / "predictions" / "**" / "*.parquet")
    query = (
        "select scale, mixture, seed, stage, benchmark, item_id, choice_index, logprob, "
        f"logprob_uncond, n_tokens from read_parquet('{glob}', hive_partitioning = true, "
        "hive_types_autocast = false) order by all"
    )
    with duckdb.connect() as con:
        return con.sql(query).fetchall()


def test_two_jobs_give_the_same_marts_as_one(mini_study, tmp_path):
    run_study(mini_study, tmp_path / "one", jobs=1)
    log = run_study(mini_study, tmp_path / "two", jobs=2)
    assert prediction_rows(tmp_path / "one") == prediction_rows(tmp_path / "two")
    one, two = transfer_rows(tmp_path / "one"), transfer_rows(tmp_path / "two")
    assert one
    assert_same_rows(one, two)
    assert "started pretrain tiny__" in log
    assert "done report mini" in log


def test_ready_steps_follow_the_dag_and_exclusive_steps_run_alone(mini_study):
    from runner.executor import _Schedule

    config, path = load_study(mini_study)
    plan = plan_study(config, path)
    schedule = _Schedule(plan.steps)
    assert {step.kind for step in schedule.ready()} == {"ingest"}
    schedule.finished |= {s.name for s in plan.steps if s.kind in ("ingest", "tokenizer")}
    schedule.pending = [s for s in plan.steps if s.name not in schedule.finished]
    assert {step.kind for step in schedule.ready()} == {"pretrain"}
    schedule.finished |= {s.name for s in plan.steps if s.kind not in ("build", "report")}
    schedule.pending = [s for s in plan.steps if s.name not in schedule.finished]
    assert [step.kind for step in schedule.ready()] == ["build"]
    schedule.running = {object(): schedule.pending[0]}
    assert schedule.ready() == []
