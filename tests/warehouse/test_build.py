"""`xstage build`: schemas, rename into place, incremental leaves, failures, both entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from runner.cli import app
from tests.warehouse.conftest import BuiltLake, build_synthetic, close
from warehouse import build as warehouse_build
from warehouse import synthetic
from xstage import lake, schemas

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

MARTS_COMPARED = ["fct_item_predictions", "fct_benchmark_scores", "fct_calibration_bins",
                  "fct_cross_stage_transfer", "fct_alignment_by_mixture", "fct_item_stage_flips"]  # fmt: skip


@pytest.fixture(scope="module")
def built_lake(tmp_path_factory: pytest.TempPathFactory) -> BuiltLake:
    """A private built lake: this module rebuilds and edits it (not the shared read-only one)."""
    return build_synthetic(tmp_path_factory.mktemp("warehouse"))


def test_schemas_are_exactly_staging_intermediate_marts(built_lake: BuiltLake) -> None:
    rows = built_lake.rows("select distinct table_schema from information_schema.tables")
    assert {row["table_schema"] for row in rows} == {"staging", "intermediate", "marts"}
    counts = built_lake.result.counts
    assert counts["model"] >= 30
    assert counts["unit_test"] >= 6  # the fixture asks for them, as make test does
    views_of_checked = [n for n in _models(built_lake) if "checked_by" in _meta(n)]
    assert [n["name"] for n in views_of_checked] == ["fct_item_predictions"]
    assert counts["test"] >= counts["model"] - len(views_of_checked)


def _manifest(built_lake: BuiltLake) -> dict:
    return json.loads((lake.dbt_work_dir(built_lake.root) / "target" / "manifest.json").read_text())


def _models(built_lake: BuiltLake) -> list[dict]:
    nodes = _manifest(built_lake)["nodes"].values()
    return [n for n in nodes if n["resource_type"] == "model"]


def _meta(node: dict) -> dict:
    return {**node["meta"], **node["config"].get("meta", {})}


def test_every_model_checks_its_primary_key_and_columns(built_lake: BuiltLake) -> None:
    """Each model has one row_checks test: its primary key plus not-null/range/value checks."""
    checks = {}
    for node in _manifest(built_lake)["nodes"].values():
        if (
            node["resource_type"] == "test"
            and node.get("test_metadata", {}).get("name") == "row_checks"
        ):
            checks[node["attached_node"]] = node["test_metadata"]["kwargs"]
    models = {n["unique_id"]: n for n in _models(built_lake)}
    assert len(models) >= 30
    for model in models.values():
        checked_by = _meta(model).get("checked_by")
        if checked_by is not None:  # a view of one checked relation: its rows are those rows
            (parent,) = model["depends_on"]["nodes"]
            assert models[parent]["name"] == checked_by, model["name"]
            assert model["config"]["materialized"] == "view", model["name"]
            model = models[parent]
        kwargs = checks[model["unique_id"]]
        assert kwargs["unique_key"], model["name"]
        assert kwargs.get("not_null"), model["name"]
    n_checks = sum(
        len(k.get("not_null", [])) + len(k.get("accepted_values", {})) + len(k.get("between", {}))
        + len(k.get("expressions", [])) + 1 for k in checks.values()
    )  # fmt: skip
    assert n_checks >= 360  # NULL length_normalization only in the primary selection: expressions


def test_row_checks_name_every_violated_check(built_lake: BuiltLake, tmp_path: Path) -> None:
    """The compiled row_checks of fct_item_predictions, run on a copy with planted violations."""
    compiled = lake.dbt_work_dir(built_lake.root) / "target" / "compiled" / "xstage" / "models"
    (sql_path,) = (compiled / "intermediate" / "int_item_predictions_scored.yml").glob(
        "row_checks_*.sql"
    )
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(built_lake.result.path.read_bytes())
    with duckdb.connect(":memory:") as con:
        con.execute(f"attach '{copy}' as warehouse")
        assert con.sql(sql_path.read_text()).fetchall() == []
        con.execute("""
            insert into warehouse.intermediate.int_item_predictions_scored
            select * from warehouse.intermediate.int_item_predictions_scored where rowid = 0;
            update warehouse.intermediate.int_item_predictions_scored set confidence = 1.5, prob_gold = 1.5
            where rowid = 1;
            update warehouse.intermediate.int_item_predictions_scored set stage = 'mid' where rowid = 2;
            update warehouse.intermediate.int_item_predictions_scored set item_id = null where rowid = 3;
            update warehouse.intermediate.int_item_predictions_scored set n_tied_at_max = 0 where rowid = 4;
        """)  # fmt: skip
        failed = dict(con.sql(sql_path.read_text()).fetchall())
    assert failed == {
        "unique(run_id, stage, benchmark, item_id, length_normalization)": 1,
        "not_null(item_id)": 1,
        "accepted_values(stage)": 1,
        "between(confidence, 0, 1)": 1,
        "between(prob_gold, 0, 1)": 1,
        "expression(n_tied_at_max >= 1 and confidence >= prob_gold - 1e-12)": 1,
    }


def test_missing_optional_tables_build_empty(built_lake: BuiltLake) -> None:
    assert not (built_lake.root / "lake" / "training_metrics").exists()
    rows = built_lake.rows("select count(*) as n from staging.stg_lake__training_metrics")
    assert rows == [{"n": 0}]


def _rescore_leaf(root: Path) -> tuple:
    """Rewrite one existing leaf with shifted log-probs and a new scored_at."""
    leaf = ("small", synthetic.mixture_id("web_b", synthetic.PROPORTIONS[2]), 0, "sft", "cs_two")
    path = lake.predictions_path(*leaf, synthetic.CHECKPOINTS["sft"], root)
    table = lake.read_table(path)
    shifted = pa.array(
        [v * 0.5 if i % 3 else v for i, v in enumerate(table["logprob"].to_pylist())]
    )
    table = table.set_column(table.schema.get_field_index("logprob"), "logprob", shifted)
    later = pa.array([synthetic.SCORED_AT.replace(hour=5)] * table.num_rows, schemas.UTC_TIMESTAMP)
    table = table.set_column(table.schema.get_field_index("scored_at"), "scored_at", later)
    lake.write_parquet(table, path, schemas.PREDICTIONS)
    return leaf


def _snapshot(path: Path, table: str) -> dict:
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(f"select * from marts.{table}")
        names = [d[0] for d in cursor.description]
        return {tuple(r): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def _item_rows(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select rowid, leaf_fingerprint, run_id, stage, benchmark"
            " from intermediate.int_item_predictions_scored"
        ).fetchall()


def test_incremental_rebuild_touches_only_new_leaves(built_lake: BuiltLake) -> None:
    root, target = built_lake.root, built_lake.result.path
    before = {row[0]: row[1:] for row in _item_rows(target)}
    reader = duckdb.connect(str(target), read_only=True)  # open across the rebuild
    new_run = ("tiny", synthetic.mixture_id("web_b", synthetic.PROPORTIONS[0]), 1)
    synthetic.add_run(root, *new_run)
    scale, mixture, seed, stage, benchmark = _rescore_leaf(root)
    rescored = (synthetic.run_id(scale, mixture, seed), stage, benchmark)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XSTAGE_CONFIG_DIR", str(built_lake.lake.config_dir))
        warehouse_build.build(root=root)
    # a reader opened before the build still reads the old file
    count = reader.execute("select count(*) from marts.fct_item_predictions").fetchone()[0]
    assert count == len(before)
    reader.close()
    after = {row[0]: row[1:] for row in _item_rows(target)}
    untouched = {rowid for rowid, row in before.items() if row[1:] != rescored}
    assert all(after.get(rowid) == before[rowid] for rowid in untouched), (
        "old leaves were rewritten"
    )
    inserted = {row[1:] for rowid, row in after.items() if rowid not in untouched}
    new_leaves = {(synthetic.run_id(*new_run), s, b) for s in synthetic.CHECKPOINTS
                  for b in synthetic.BENCHMARKS}  # fmt: skip
    assert inserted == new_leaves | {rescored}
    # an incremental build equals a full rebuild of the same lake
    snapshots = {t: _snapshot(target, t) for t in MARTS_COMPARED}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XSTAGE_CONFIG_DIR", str(built_lake.lake.config_dir))
        warehouse_build.build(full_refresh=True, root=root)
    for table, rows in snapshots.items():
        _assert_same_rows(rows, _snapshot(target, table), table)


def _assert_same_rows(left: dict, right: dict, table: str) -> None:
    assert len(left) == len(right), table
    keyed = {}
    for row in right.values():
        keyed[_key(row)] = row
    for row in left.values():
        other = keyed[_key(row)]
        for column, value in row.items():
            if column == "invocation_id":
                continue
            assert close(value, other[column]), (table, column, value, other[column])


def _key(row: dict) -> tuple:
    """The row's identity: its strings and integers, but the invocation that inserted it."""
    values = [v for k, v in row.items() if k != "invocation_id"]
    return tuple(v for v in values if isinstance(v, str | int) and not isinstance(v, bool))


def test_failed_build_keeps_the_old_warehouse(tmp_path: Path) -> None:
    root = tmp_path / "data"
    synthetic.write_synthetic_lake(root, n_items=6)
    target = lake.warehouse_path(root)
    target.write_bytes(b"previous warehouse")
    # a second items file repeating an item breaks the benchmark_items primary key
    items = lake.read_table(lake.benchmark_items_path("cs_one", root))
    lake.write_parquet(items.slice(0, 1), lake.benchmark_items_path("cs_one", root).with_name(
        "part-1.parquet"), schemas.BENCHMARK_ITEMS)  # fmt: skip
    with pytest.raises(
        warehouse_build.BuildError, match=r"staging\.stg_lake__benchmark_items: 1 key"
    ):
        warehouse_build.build(full_refresh=True, root=root)
    assert target.read_bytes() == b"previous warehouse"
    assert [p.name for p in root.iterdir() if p.name.startswith(".warehouse")] == []


def test_cli_build_select(built_lake: BuiltLake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(built_lake.lake.config_dir))
    result = CliRunner().invoke(
        app, ["--data-dir", str(built_lake.root), "build", "--select", "stg_lake__runs"]
    )
    assert result.exit_code == 0, result.output
    assert "built" in result.output
    assert "1 models" in result.output


def test_plain_dbt_build_inside_dbt_project(built_lake: BuiltLake, tmp_path: Path) -> None:
    env = {**os.environ, "XSTAGE_DATA_DIR": str(built_lake.root)}
    env["XSTAGE_WAREHOUSE_PATH"] = str(tmp_path / "plain.duckdb")
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt), "build", "--select", "stg_lake__benchmark_items",
               "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]  # fmt: skip
    done = subprocess.run(
        command, cwd=warehouse_build.PROJECT_DIR, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    with duckdb.connect(str(tmp_path / "plain.duckdb"), read_only=True) as con:
        n = con.execute("select count(*) from staging.stg_lake__benchmark_items").fetchone()[0]
    assert n == len(synthetic.BENCHMARKS) * built_lake.lake.n_items
