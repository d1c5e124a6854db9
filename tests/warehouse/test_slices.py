"""warehouse.slices against the built marts and scipy, on the seeded generated lake."""

import duckdb
import pytest
from scipy import stats

from warehouse import slices


@pytest.fixture(scope="module")
def database(built_lake):
    return built_lake.result.path


def _scores(database, scale, benchmark, metric_column, units=None):
    """Seed-averaged PT and SFT values per unit, straight from the mart."""
    sql = f"""
        select mixture, stage, avg({metric_column}) as value from marts.fct_benchmark_scores
        where scale = ? and benchmark = ? and length_normalization = 'none'
        group by all order by mixture
    """
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(sql, [scale, benchmark]).fetchall()
    values = {(mixture, stage): value for mixture, stage, value in rows}
    keep = sorted({m for m, _ in values if units is None or m in units})
    return [values[(m, "pretrain")] for m in keep], [values[(m, "sft")] for m in keep]


@pytest.mark.dbt
@pytest.mark.parametrize(
    ("method", "normalization"),
    [("pearson", "none"), ("spearman", "none"), ("pearson", "primary"), ("spearman", "primary")],
)
def test_per_benchmark_slice_equals_the_transfer_mart(database, method, normalization):
    options = {"method": method, "normalization": normalization, "database": database}
    sliced = slices.correlate("confidence", by="benchmark", **options)
    mart = slices.transfer_table(metric="confidence", **options)
    expected = {(row["scale"], row["benchmark"]): row for row in mart.iter_rows(named=True)}
    assert sliced.height == len(expected) > 0
    for row in sliced.iter_rows(named=True):
        reference = expected[(row["scale"], row["benchmark"])]
        assert row["n"] == reference["n"]
        if reference["r"] is None:
            assert row["r"] is None
        else:
            assert row["r"] == pytest.approx(reference["r"], abs=1e-9)
            assert row["p_value"] == pytest.approx(reference["p_value"], abs=1e-9)


@pytest.mark.dbt
def test_a_subset_of_units_matches_scipy(database):
    units = ["web_a_65_25_10", "web_a_45_35_20", "web_b_25_45_30", "web_b_65_25_10"]
    sliced = slices.correlate(
        "accuracy", by="benchmark", scale="small", method="spearman", units=units, database=database
    )
    row = sliced.filter(sliced["benchmark"] == "cs_one").row(0, named=True)
    pt, sft = _scores(database, "small", "cs_one", "accuracy", units)
    expected = stats.spearmanr(pt, sft)
    assert row["n"] == 4
    assert row["r"] == pytest.approx(expected.statistic, abs=1e-9)
    assert row["p_value"] == pytest.approx(expected.pvalue, abs=1e-9)


@pytest.mark.dbt
def test_category_slice_is_the_unweighted_mean_of_benchmarks(database):
    by_benchmark = slices.correlate("accuracy", by="benchmark", scale="tiny", database=database)
    by_category = slices.correlate("accuracy", by="category", scale="tiny", database=database)
    science = by_benchmark.filter(by_benchmark["category"] == "science")["r"].to_list()
    row = by_category.filter(by_category["category"] == "science").row(0, named=True)
    assert row["n_benchmarks"] == 3
    assert row["mean_r"] == pytest.approx(sum(science) / 3, abs=1e-12)
    overall = slices.correlate("accuracy", by="all", scale="tiny", database=database)
    assert overall["category"].to_list() == ["all"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "accuracy; drop table x"}, "metric="),
        ({"by": "mixture"}, "by="),
        ({"method": "kendall"}, "method="),
        ({"normalization": "per_word"}, "normalization="),
    ],
)
def test_identifiers_come_from_closed_sets(kwargs, message):
    with pytest.raises(ValueError, match=message):
        slices.correlate(**kwargs)


@pytest.mark.dbt
def test_every_named_query_runs_on_the_built_marts(database):
    from warehouse import queries

    needed = {"benchmark": "cs_one"}
    for name, query in queries.named_queries().items():
        given = {key: value for key, value in needed.items() if key in query.params}
        frame = queries.run_named(name, given, database)
        assert frame.height > 0, name
