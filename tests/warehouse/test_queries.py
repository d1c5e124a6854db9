"""Read-only query paths: refusals, bound parameters, output formats (a real DuckDB file)."""

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from runner.cli import app
from warehouse import queries
from xstage import lake

runner = CliRunner()


@pytest.fixture
def warehouse_file(data_dir):
    path = lake.warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema marts")
        connection.execute(
            "create table marts.fct_benchmark_scores as "
            "select * from (values ('r1', 'piqa', 0.5), ('r2', 'piqa', 0.75), ('r1', 'copa', 0.25))"
            " as t(run_id, benchmark, accuracy)"
        )
    return path


@pytest.mark.parametrize(
    "sql",
    [
        "create table marts.x as select 1",
        "insert into marts.fct_benchmark_scores values ('r3', 'x', 1.0)",
        "drop table marts.fct_benchmark_scores",
        "copy (select 1) to '/tmp/xstage_should_not_exist.csv'",
        "attach '/tmp/other.duckdb'",
        "set threads = 1",
        "select 1; select 2",
    ],
)
def test_writes_and_side_effects_are_refused(warehouse_file, sql):
    with pytest.raises(queries.QueryError, match=r"refused|exactly one statement"):
        queries.run_sql(sql)


def test_file_access_outside_the_warehouse_is_blocked(warehouse_file):
    with pytest.raises(queries.QueryError, match="Permission"):
        queries.run_sql("select * from read_csv('/etc/hostname')")


def test_parameters_are_bound_not_interpolated(warehouse_file):
    sql = "select run_id from marts.fct_benchmark_scores where benchmark = $b order by run_id"
    assert queries.run_sql(sql, {"b": "piqa"})["run_id"].to_list() == ["r1", "r2"]
    assert queries.run_sql(sql, {"b": "piqa' or '1'='1"}).height == 0


def test_cli_refuses_writes_and_leaves_the_table(warehouse_file):
    result = runner.invoke(app, ["query", "delete from marts.fct_benchmark_scores"])
    assert result.exit_code == 1
    assert "refused" in result.output
    with duckdb.connect(str(warehouse_file), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.fct_benchmark_scores").fetchone() == (
            3,
        )


def test_cli_writes_csv_and_parquet(warehouse_file, tmp_path):
    sql = "select benchmark, avg(accuracy) as accuracy from marts.fct_benchmark_scores group by 1 order by 1"
    result = runner.invoke(app, ["query", sql, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["benchmark,accuracy", "copa,0.25", "piqa,0.625"]
    out = tmp_path / "scores.parquet"
    result = runner.invoke(app, ["query", sql, "--format", "parquet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out)["accuracy"].to_list() == [0.25, 0.625]


def test_named_query_parameters_are_checked():
    query = queries.named_queries()["benchmark_scores"]
    assert queries.bind_params(query, {"benchmark": "piqa"}) == {
        "benchmark": "piqa",
        "normalization": "none",
    }
    with pytest.raises(queries.QueryError, match="needs --param benchmark"):
        queries.bind_params(query, {})
    with pytest.raises(queries.QueryError, match="has no parameter 'bench'"):
        queries.bind_params(query, {"bench": "piqa"})
    with pytest.raises(queries.QueryError, match="snake_case"):
        queries.parse_params(["Bench=1"])


def test_missing_warehouse_is_a_clear_error(data_dir):
    with pytest.raises(queries.QueryError, match="run `xstage build` first"):
        queries.run_sql("select 1")


def test_out_inside_the_data_dir_is_refused_and_the_warehouse_stays(warehouse_file, data_dir):
    before = warehouse_file.read_bytes()
    sql = "select * from marts.fct_benchmark_scores"
    for target in (warehouse_file, data_dir / "lake" / "x.parquet", data_dir / "sub" / ".." / "w"):
        result = runner.invoke(app, ["query", sql, "--format", "parquet", "--out", str(target)])
        assert result.exit_code == 1
        assert "is inside the data dir" in result.output
        assert "Traceback" not in result.output
    assert warehouse_file.read_bytes() == before
    assert not (data_dir / "lake").exists()


def test_nested_columns_as_csv_are_one_line(warehouse_file, tmp_path):
    sql = "select [1, 2] as xs"
    result = runner.invoke(app, ["query", sql, "--format", "csv"])
    assert result.exit_code == 1
    assert "['xs'] are nested" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["query", sql, "--format", "csv", "--out", str(tmp_path / "a")])
    assert result.exit_code == 1
    assert not (tmp_path / "a").exists()
