"""`xstage build` bookkeeping: when an incremental build must become a full refresh."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from warehouse import build as warehouse_build


def _project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "dbt_project"
    shutil.copytree(
        warehouse_build.PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs")
    )
    return copy


def test_project_hash_follows_model_files_not_build_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project_copy(tmp_path)
    monkeypatch.setattr(warehouse_build, "PROJECT_DIR", project)
    data = tmp_path / "data"
    first = warehouse_build.project_hash(data)
    assert warehouse_build.project_hash(data) == first
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    assert warehouse_build.project_hash(data) == first
    assert warehouse_build.project_hash(tmp_path / "elsewhere") != first
    macro = project / "macros" / "item_scores.sql"
    macro.write_text(macro.read_text() + "\n")
    assert warehouse_build.project_hash(data) != first


def test_full_refresh_unless_the_record_matches(tmp_path: Path) -> None:
    target, work = tmp_path / "warehouse.duckdb", tmp_path / "work"
    work.mkdir()
    assert "no warehouse" in warehouse_build.needs_full_refresh(target, work, "h1")
    target.write_bytes(b"built")
    assert "no build record" in warehouse_build.needs_full_refresh(target, work, "h1")
    record = {"project_hash": "h1", "warehouse": warehouse_build._stamp(target)}
    (work / "built.json").write_text(json.dumps(record))
    assert warehouse_build.needs_full_refresh(target, work, "h1") is None
    assert "changed" in warehouse_build.needs_full_refresh(target, work, "h2")
    target.write_bytes(b"a warehouse from somewhere else")
    assert "not written by the last" in warehouse_build.needs_full_refresh(target, work, "h1")


def test_close_dbt_connections_closes_and_forgets_the_handle() -> None:
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    class Environment:
        closed = False

        def close(self) -> None:
            self.closed = True

    environment = Environment()
    DuckDBConnectionManager._ENV = environment
    warehouse_build.close_dbt_connections()
    assert environment.closed
    assert DuckDBConnectionManager._ENV is None
    warehouse_build.close_dbt_connections()  # nothing open: a no-op


@pytest.mark.dbt
@pytest.mark.slow
def test_build_is_a_no_op_until_a_lake_file_or_config_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warehouse import synthetic

    root = tmp_path / "data"
    config_dir = tmp_path / "configs"
    synthetic.write_synthetic_lake(root, config_dir, n_items=6)
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(config_dir))
    first = warehouse_build.build(root=root)
    assert not first.up_to_date
    assert first.counts["model"] > 0
    stamp = warehouse_build._stamp(first.path)

    again = warehouse_build.build(root=root)
    assert again.up_to_date
    assert again.counts == {}
    assert warehouse_build._stamp(first.path) == stamp  # the file was not rewritten
    forced = warehouse_build.build(root=root, force=True)
    assert not forced.up_to_date
    assert forced.counts["test"] > 0

    # a --select build covers part of the project, so the next plain build runs dbt
    warehouse_build.build(select=["stg_lake__runs"], root=root)
    assert not warehouse_build.build(root=root).up_to_date
    assert warehouse_build.build(root=root).up_to_date

    # a lake table dbt does not read (corpus documents): nothing to build
    documents = root / "lake" / "documents" / "some_corpus" / "part-00000.parquet"
    documents.parent.mkdir(parents=True)
    documents.write_bytes(b"not read by dbt")
    assert warehouse_build.build(root=root).up_to_date

    # a new run's leaves: only what is downstream of predictions and runs is rebuilt
    synthetic.add_run(root, "tiny", synthetic.mixture_id("web_b", synthetic.PROPORTIONS[0]), 1)
    nodes: list[str] = []
    added = warehouse_build.build(root=root, on_node=lambda name, status: nodes.append(name))
    assert not added.up_to_date
    assert {"int_item_predictions_scored", "fct_cross_stage_transfer", "dim_runs"} <= set(nodes)
    assert "dim_benchmarks" not in nodes
    assert not any(name.startswith("row_checks_stg_lake__config_") for name in nodes)
    assert len(nodes) < sum(forced.counts.values())
    assert warehouse_build.build(root=root).up_to_date

    # a changed config reaches the lake's config exports
    config = config_dir / "benchmarks" / "cs_one.yaml"
    config.write_text(config.read_text().replace("display_name: Cs One", "display_name: Renamed"))
    nodes.clear()
    rebuilt = warehouse_build.build(root=root, on_node=lambda name, status: nodes.append(name))
    assert not rebuilt.up_to_date
    assert "dim_benchmarks" in nodes
    assert not any("training_metrics" in name for name in nodes)
    with duckdb.connect(str(rebuilt.path), read_only=True) as con:
        sql = "select display_name from marts.dim_benchmarks where benchmark = 'cs_one'"
        assert con.execute(sql).fetchall() == [("Renamed",)]


@pytest.mark.dbt
@pytest.mark.slow
def test_a_lake_table_that_appears_later_is_read_after_the_next_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warehouse import synthetic

    root = tmp_path / "data"
    synthetic.write_synthetic_lake(root, tmp_path / "configs", n_items=6)
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(tmp_path / "configs"))
    runs = root / "lake" / "runs"
    shutil.move(runs, tmp_path / "runs_parked")  # no lake/runs yet: an empty staging relation
    first = warehouse_build.build(root=root)
    sql = "select count(*) from staging.stg_lake__runs"
    with duckdb.connect(str(first.path), read_only=True) as con:
        assert con.execute(sql).fetchone() == (0,)
    shutil.move(tmp_path / "runs_parked", runs)
    again = warehouse_build.build(root=root)
    assert again.counts["model"] == first.counts["model"]  # a full refresh: views compiled anew
    n_runs = len(list(runs.glob("*.parquet")))
    with duckdb.connect(str(again.path), read_only=True) as con:
        assert con.execute(sql).fetchone()[0] >= n_runs > 0
        assert con.execute("select count(n_params_nominal) from marts.dim_runs").fetchone()[0] > 0


def test_dbt_vars_are_part_of_the_project_hash_and_the_dbt_call(tmp_path: Path) -> None:
    data = tmp_path / "data"
    plain = warehouse_build.project_hash(data)
    assert warehouse_build.project_hash(data, {}) == plain
    three = warehouse_build.project_hash(data, {"last_checkpoints": 3})
    assert three not in (plain, warehouse_build.project_hash(data, {"last_checkpoints": 2}))
    args = warehouse_build.dbt_args([], False, tmp_path, dbt_vars={"last_checkpoints": 3})
    assert args[-2:] == ["--vars", '{"last_checkpoints": 3}']
    assert "--vars" not in warehouse_build.dbt_args([], False, tmp_path)


def test_build_var_option_reads_yaml_values_and_names_unknown_vars() -> None:
    from warehouse.cli import parse_vars

    assert set(warehouse_build.project_vars()) >= {"last_checkpoints", "checkpoint_average"}
    parsed = parse_vars(["last_checkpoints=3", "checkpoint_average=true"])
    assert parsed == {"last_checkpoints": 3, "checkpoint_average": True}
    with pytest.raises(ValueError, match=r"'last_checkpoint': not a var of dbt_project\.yml"):
        parse_vars(["last_checkpoint=3"])
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        parse_vars(["last_checkpoints"])
