"""Hostile and real-world input to the importers (issue 14): names, numbers, races and kills.

The race and the kills run the real CLI in subprocesses, as a user (or a crash) would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from importers.batch import ImportFailed, RunKey
from importers.lm_eval import import_lm_eval
from importers.table import import_table
from xstage import lake, lake_writes
from xstage.ids import case_collisions, check_run_id, path_key

from .conftest import TOY_MAP, lm_eval_line, toy_lines, write_samples

HEADER = "run_id,stage,unit,group,scale,benchmark,item_id,is_correct,confidence\n"
CLI = [sys.executable, "-c", "from runner.cli import app; app()"]


def write_table(path: Path, run_id: str, benchmarks: list[str], n: int = 20) -> Path:
    """A per-item CSV for one real-named model; correct on even items."""
    lines = [HEADER]
    for benchmark in benchmarks:
        for i in range(n):
            row = f"{run_id},pretrain,{run_id},pythia,1.4B,{benchmark},q{i},{i % 2 == 0},0.5\n"
            lines.append(row)
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize(
    "name", ["Llama-3-8B", "pythia-1.4b-deduped", "OLMo-2-1B-SFT", "240M__web70__seed0", "a"]
)
def test_real_model_names_are_names(name):
    assert check_run_id(name) == name
    assert path_key(name) == name  # hive values are read back as columns: the key is the name


@pytest.mark.parametrize(
    "bad",
    ["..", ".", "a/b", "a\\b", "../etc", "a\n", "a\x00b", "a\tb", "Llama 3", "modèle", "", "-x"],
)
def test_path_key_refuses_traversal_separators_control_and_unicode(bad):
    with pytest.raises(ValueError, match="is not a name"):
        path_key(bad)


def test_case_collisions_are_found():
    assert case_collisions(["Llama-3", "llama-3", "qwen"]) == [("Llama-3", "llama-3")]
    assert case_collisions(["a", "b", "a"]) == []


def test_real_names_group_models_of_any_size_for_correlation(tmp_path, data_dir):
    summary = import_table(write_table(tmp_path / "t.csv", "pythia-1.4b-deduped", ["piqa"]))
    run = summary.runs[0]
    assert (run.scale, run.unit, run.n_params) == ("pythia", "pythia-1.4b-deduped", 1_400_000_000)
    row = pq.read_table(lake.runs_path("pythia-1.4b-deduped", "pretrain")).to_pylist()[0]
    assert (row["scale"], row["mixture"], row["n_params_nominal"]) == (
        "pythia",
        "pythia-1.4b-deduped",
        1_400_000_000,
    )


def test_many_bad_rows_give_one_line_per_problem(tmp_path, data_dir):
    path = tmp_path / "bad.csv"
    rows = [f"Llama 3,pretrain,u,g,1B,piqa,q{i},true,0.5\n" for i in range(1000)]
    rows += [f"m,pretrain,u,g,1B,piqa,p{i},true,{v}\n" for i, v in enumerate(["nan", "inf", "1.5"])]
    path.write_text(HEADER + "".join(rows))
    with pytest.raises(ImportFailed) as info:
        import_table(path)
    lines = str(info.value).splitlines()[1:]
    assert len(lines) == 2, lines
    assert lines[0].strip().startswith("1000 rows: run_id=... is not a name")
    assert f"{path}:2, {path}:3, {path}:4" in lines[0]
    assert lines[1].strip().startswith("3 rows: confidence=... is outside [0, 1]")


def test_header_only_and_empty_ids_are_refused(tmp_path, data_dir):
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER)
    with pytest.raises(ImportFailed, match="no rows to import"):
        import_table(empty)
    no_id = tmp_path / "no_id.csv"
    no_id.write_text(HEADER + "m,pretrain,m,g,1B,piqa,,true,0.5\n")
    with pytest.raises(ImportFailed, match="item_id is empty"):
        import_table(no_id)
    assert not lake.table_dir("runs").exists() or not any(lake.table_dir("runs").iterdir())


@pytest.mark.parametrize("logprob", [5.0, float("nan"), float("inf")])
def test_log_probs_must_be_finite_and_not_positive(tmp_path, data_dir, logprob):
    lines = toy_lines()
    lines[1] = lm_eval_line(1, "q", ["a", "b"], 0, [logprob, -1.0])
    path = write_samples(tmp_path, "toy_task", lines)
    with pytest.raises(ImportFailed, match="is not a finite number <= 0"):
        import_lm_eval([path], RunKey("m", "pretrain", "1B", "m"), task_map=TOY_MAP)


def test_unknown_task_prints_the_mapping_to_add(tmp_path, data_dir):
    path = write_samples(tmp_path, "piqa_mirror", toy_lines())
    with pytest.raises(ImportFailed) as info:
        import_lm_eval([path], RunKey("m", "pretrain", "1B", "m"))
    assert "unknown task 'piqa_mirror'" in str(info.value)
    assert "tasks: {'piqa_mirror': {benchmark: <id>, category: <id>, split: <split>}}" in str(
        info.value
    )


def test_overwrite_replaces_the_whole_import(tmp_path, data_dir):
    import_table(write_table(tmp_path / "a.csv", "OLMo-2-1B-SFT", ["piqa", "arc_easy"]))
    leaf = lake.item_results_path("pythia", "OLMo-2-1B-SFT", 0, "pretrain", "arc_easy", 0)
    assert leaf.exists()
    with pytest.raises(ImportFailed, match="already imported; pass --overwrite"):
        import_table(write_table(tmp_path / "b.csv", "OLMo-2-1B-SFT", ["piqa"]))
    summary = import_table(write_table(tmp_path / "b.csv", "OLMo-2-1B-SFT", ["piqa"]), True)
    assert summary.removed == [leaf]
    assert not leaf.exists()
    assert not list(lake.lake_dir().rglob("*.tmp"))
    assert not any((lake.lake_dir() / ".staging").iterdir())


def _cli(args: list[str], env: dict | None = None) -> subprocess.Popen:
    full = {**os.environ, **(env or {})}
    return subprocess.Popen([*CLI, *args], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_concurrent_imports_one_wins_the_other_is_refused(tmp_path, data_dir):
    first = write_table(tmp_path / "first.csv", "Llama-3-8B", ["piqa"], n=3000)
    second = write_table(tmp_path / "second.csv", "Llama-3-8B", ["piqa"], n=2000)
    procs = [_cli(["import", "table", str(path)]) for path in (first, second)]
    results = [(proc.wait(120), proc.stderr.read().decode()) for proc in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, err in results if code == 1)
    assert "already imported; pass --overwrite" in refused
    assert "Traceback" not in refused
    rows = pq.read_table(lake.item_results_path("pythia", "Llama-3-8B", 0, "pretrain", "piqa", 0))
    assert rows.num_rows in (3000, 2000)  # one import's rows, whole


def test_an_import_that_meets_a_held_lock_stops_with_one_line(tmp_path, data_dir):
    """Deterministic half of the race: this process holds the lock while the CLI imports."""
    table = write_table(tmp_path / "t.csv", "Llama-3-8B", ["piqa"])
    with lake_writes.writer_lock(["runs"], "test"):
        proc = _cli(["import", "table", str(table)], {lake_writes.LOCK_TIMEOUT_ENV: "0.3"})
        code, err = proc.wait(120), proc.stderr.read().decode()
    assert code == 1, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert f"lake table 'runs' is being written by `xstage test` (pid {os.getpid()})" in err
    assert not lake.table_dir("runs").exists() or not any(lake.table_dir("runs").iterdir())
    assert not lake.table_dir("item_results").exists()


def test_an_import_sweeps_the_temp_files_of_dead_writers(tmp_path, data_dir):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, check=True)  # fmt: skip
    leaf_dir = lake.item_results_path("pythia", "Llama-3-8B", 0, "pretrain", "piqa", 0).parent
    leaf_dir.mkdir(parents=True)
    stale = leaf_dir / f".part-00000.parquet.{int(dead.stdout)}.k3j2.tmp"
    stale.write_bytes(b"half a leaf")
    runs_stale = lake.table_dir("runs") / f".x.parquet.{int(dead.stdout)}.q1w2.tmp"
    runs_stale.parent.mkdir(parents=True)
    runs_stale.write_bytes(b"half a run row")
    mine = leaf_dir / f".part-00000.parquet.{os.getpid()}.live.tmp"  # a live writer's: kept
    mine.write_bytes(b"")
    import_table(write_table(tmp_path / "t.csv", "Llama-3-8B", ["piqa"]))
    assert not stale.exists()
    assert not runs_stale.exists()
    assert mine.exists()
    assert pq.read_table(lake.item_results_path("pythia", "Llama-3-8B", 0, "pretrain", "piqa", 0)
                         ).num_rows == 20  # fmt: skip


@pytest.mark.slow  # three CLI processes, one SIGKILLed
@pytest.mark.parametrize("point", ["staging", "committed", "publishing"])
def test_import_killed_at_any_point_leaves_no_orphan_and_recovers(tmp_path, data_dir, point):
    table = write_table(tmp_path / "t.csv", "Llama-3-8B", ["piqa", "arc_easy", "hellaswag"])
    proc = _cli(["import", "table", str(table)], {"XSTAGE_KILL_AT": point})
    assert proc.wait(120) == -9
    _assert_no_leaf_without_its_run()
    rerun = _cli(["import", "table", str(table)])
    code, err = rerun.wait(120), rerun.stderr.read().decode()
    if point == "staging":  # not committed: the import never happened
        assert code == 0, err
    else:  # committed: the next writer finished it, so it is already there
        assert code == 1
        assert "already imported" in err
        assert "Traceback" not in err
    _assert_no_leaf_without_its_run()
    leaves = list(lake.table_dir("item_results").rglob("part-*.parquet"))
    assert len(leaves) == 3
    assert not list(lake.lake_dir().rglob("*.tmp"))
    assert not any((lake.lake_dir() / ".staging").iterdir())


@pytest.mark.slow  # three CLI processes, one SIGKILLed
@pytest.mark.parametrize("point", ["committed", "publishing"])
def test_an_overwrite_killed_after_its_commit_is_finished_by_the_next_writer(
    tmp_path, data_dir, point
):
    """--overwrite with fewer benchmarks, killed after the commit point: the next writer rolls
    the staged publish forward, so the old run's other benchmarks never come back."""
    three = write_table(tmp_path / "t3.csv", "Llama-3-8B", ["piqa", "arc_easy", "hellaswag"])
    assert _cli(["import", "table", str(three)]).wait(120) == 0
    one = write_table(tmp_path / "t1.csv", "Llama-3-8B", ["piqa"], n=7)
    killed = _cli(["import", "table", str(one), "--overwrite"], {"XSTAGE_KILL_AT": point})
    assert killed.wait(120) == -9
    _assert_no_leaf_without_its_run()
    check = write_table(tmp_path / "other.csv", "OLMo-2-1B-SFT", ["piqa"])
    assert _cli(["import", "table", str(check)]).wait(120) == 0  # any import recovers first
    leaves = sorted(lake.table_dir("item_results").rglob("part-*.parquet"))
    piqa = lake.item_results_path("pythia", "Llama-3-8B", 0, "pretrain", "piqa", 0)
    assert [p for p in leaves if "Llama-3-8B" in str(p)] == [piqa]
    assert pq.read_table(piqa).num_rows == 7
    assert not any((lake.lake_dir() / ".staging").iterdir())


def _assert_no_leaf_without_its_run():
    runs_dir = lake.table_dir("runs")
    runs = list(runs_dir.glob("part-*.parquet")) if runs_dir.exists() else []
    leaves = list(lake.table_dir("item_results").rglob("part-*.parquet"))
    assert not leaves or runs == [lake.runs_path("Llama-3-8B", "pretrain")]
