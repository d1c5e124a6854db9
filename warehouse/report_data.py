"""Mart queries behind the study report: each returns a polars frame read from `marts.*` only.

Used by: xstage report [STUDY] and the summary table of xstage run STUDY.
The connection is read-only; identifiers are fixed here, values are bound parameters.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
from scipy import stats

# Columns that identify internal lineage, never shown in the report.
HIDDEN_COLUMNS = {"leaf_fingerprint", "invocation_id", "is_primary_normalization", "origin"}
ABOVE_CHANCE_ALPHA = 0.05


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to warehouse.duckdb (the report never writes)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no warehouse; run `xstage build` first")
    return duckdb.connect(str(path), read_only=True)


def query(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> pl.DataFrame:
    """Run one parameterised query; an empty frame keeps its columns."""
    return con.sql(sql, params=params or None).pl()


def has_mart(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True when `marts.<name>` exists in the warehouse."""
    found = query(
        con,
        "select count(*) as n from information_schema.tables "
        "where table_schema = 'marts' and table_name = $name",
        name=name,
    )
    return bool(found["n"][0])


def mart(con: duckdb.DuckDBPyConnection, name: str, where: str = "", **params: object):
    """`select * from marts.<name> [where ...]` minus lineage columns (name from a fixed set)."""
    assert name.replace("_", "").isalnum(), f"mart name {name!r} is not an identifier"
    frame = query(con, f"select * from marts.{name} {where}", **params)
    return frame.drop([column for column in frame.columns if column in HIDDEN_COLUMNS])


def scale_order(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Scales by size (n_params_nominal), never by name."""
    frame = query(
        con,
        "select scale, min(n_params_nominal) as size from marts.fct_benchmark_scores "
        "group by scale order by size, scale",
    )
    return frame["scale"].to_list()


def primary_scores(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """fct_benchmark_scores at each benchmark's primary normalisation."""
    return mart(con, "fct_benchmark_scores", "where is_primary_normalization")


def above_chance(con: duckdb.DuckDBPyConnection, stage: str = "pretrain") -> pl.DataFrame:
    """Per scale x mixture x benchmark at `stage`: accuracy vs chance, one-sided binomial test.

    k = round(accuracy * n_items) correct of n_items; H1: p > chance_accuracy.
    """
    scores = primary_scores(con).filter(pl.col("stage") == stage)
    rows = []
    for row in scores.iter_rows(named=True):
        n, accuracy, chance = row["n_items"], row["accuracy"], row["chance_accuracy"]
        k = round(accuracy * n)
        p_value = stats.binomtest(k, n, chance, alternative="greater").pvalue
        rows.append(
            {
                "scale": row["scale"],
                "mixture": row["mixture"],
                "benchmark": row["benchmark"],
                "category": row["category"],
                "n_items": n,
                "n_correct": k,
                "accuracy": accuracy,
                "chance_accuracy": chance,
                "p_binomial": float(p_value),
                "is_above_chance": bool(p_value < ABOVE_CHANCE_ALPHA),
            }
        )
    return pl.DataFrame(rows, schema_overrides={"n_items": pl.Int64, "n_correct": pl.Int64})


def majority_baseline(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per benchmark: the share of scored items whose gold is the most common index.

    What always answering that index scores: the bar an answer-prior bias reaches.
    """
    return query(
        con,
        """
        with items as (
            select distinct benchmark, item_id, gold_index
            from marts.fct_item_predictions
            where length_normalization = 'none'
        ),
        counted as (
            select benchmark, gold_index, count(*) as n_items from items group by all
        )
        select benchmark, max(n_items) / sum(n_items) as majority_baseline
        from counted
        group by benchmark
        """,
    )


def above_chance_by_benchmark(per_run: pl.DataFrame) -> pl.DataFrame:
    """Per scale x benchmark: how many mixtures' models beat chance, and the best of them."""
    if not per_run.height:
        return per_run
    return (
        per_run.group_by("scale", "category", "benchmark")
        .agg(
            pl.len().alias("n_models"),
            pl.col("is_above_chance").sum().alias("n_above_chance"),
            pl.col("chance_accuracy").first(),
            pl.col("accuracy").mean().alias("mean_accuracy"),
            pl.col("accuracy").max().alias("best_accuracy"),
            pl.col("p_binomial").min().alias("best_p_binomial"),
            pl.col("n_items").first(),
        )
        .with_columns((pl.col("n_above_chance") > 0).alias("any_above_chance"))
        .sort("scale", "category", "benchmark")
    )


def reliability_bins(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per scale x stage x equal-width bin: item-weighted mean confidence and accuracy.

    Bins are pooled over runs and benchmarks, each at its primary normalisation.
    """
    return query(
        con,
        """
        select bins.scale, bins.stage, bins.bin_index,
               sum(bins.n_items) as n_items,
               sum(bins.n_items * bins.mean_confidence) / sum(bins.n_items) as mean_confidence,
               sum(bins.n_items * bins.accuracy) / sum(bins.n_items) as accuracy
        from marts.fct_calibration_bins as bins
        semi join (
            select distinct benchmark, length_normalization from marts.fct_benchmark_scores
            where is_primary_normalization
        ) as primary_norm
            on bins.benchmark = primary_norm.benchmark
            and bins.length_normalization = primary_norm.length_normalization
        where bins.binning = 'equal_width_15'
        group by all
        order by bins.scale, bins.stage, bins.bin_index
        """,
    )


def accuracy_by_mixture(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per scale x stage x mixture x benchmark: accuracy minus chance, seed-averaged."""
    return query(
        con,
        """
        select scale, stage, mixture, benchmark, category,
               avg(accuracy) as accuracy, avg(accuracy - chance_accuracy) as accuracy_minus_chance
        from marts.fct_benchmark_scores
        where is_primary_normalization
        group by all
        order by scale, stage, mixture, category, benchmark
        """,
    )


# Rows at the report's normalisation: `primary` selects is_primary_normalization (each benchmark
# at its own primary; length_normalization NULL in marts combining benchmarks), else the value.
NORM_FILTER = "(length_normalization = $norm or ($norm = 'primary' and is_primary_normalization))"


def correlation_normalization(con: duckdb.DuckDBPyConnection) -> str:
    """The length normalisation of the correlation sections: `primary`, else `none`.

    `primary` (each benchmark at its own, is_primary_normalization) where the marts carry it;
    else `none`, raw log-probs, the primary normalisation of most benchmark configs.
    """
    found = query(
        con, "select count(*) as n from marts.fct_category_transfer where is_primary_normalization"
    )["n"].to_list()
    return "primary" if found and found[0] > 0 else "none"


def category_transfer(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """marts.fct_category_transfer at the report's normalisation (both methods)."""
    norm = correlation_normalization(con)
    return mart(con, "fct_category_transfer", f"where {NORM_FILTER}", norm=norm)


def cross_stage_transfer(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """marts.fct_cross_stage_transfer (Pearson) at the report's normalisation."""
    norm = correlation_normalization(con)
    return mart(
        con,
        "fct_cross_stage_transfer",
        f"where {NORM_FILTER} and method = 'pearson' order by scale, metric, category, benchmark",
        norm=norm,
    )


def by_normalization(con: duckdb.DuckDBPyConnection, name: str, order: str) -> pl.DataFrame:
    """Pearson rows of one correlation mart at the report's normalisation."""
    norm = correlation_normalization(con)
    return mart(
        con,
        name,
        f"where {NORM_FILTER} and method = 'pearson' order by {order}",
        norm=norm,
    )


def confidence_pairs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Within-stage benchmark x benchmark Pearson r of confidence, both triangles.

    From marts.fct_benchmark_pair_correlations, kinds pt_pt and sft_sft.
    """
    pairs = by_normalization(con, "fct_benchmark_pair_correlations", "scale, kind")
    pairs = pairs.filter(
        (pl.col("metric") == "confidence") & pl.col("kind").is_in(["pt_pt", "sft_sft"])
    )
    mirrored = pairs.rename({"benchmark_a": "benchmark_b", "benchmark_b": "benchmark_a"})
    return pl.concat([pairs, mirrored.select(pairs.columns)])


def by_norm_only(con: duckdb.DuckDBPyConnection, name: str, order: str) -> pl.DataFrame:
    """Rows of a mart without a method column at the report's normalisation."""
    norm = correlation_normalization(con)
    return mart(con, name, f"where {NORM_FILTER} order by {order}", norm=norm)


def item_flips(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per scale x benchmark: PT -> SFT correctness flips summed over units and seeds.

    At each benchmark's primary normalisation, with the mean per-unit r of prob_gold PT vs SFT.
    """
    return query(
        con,
        """
        select flips.scale, flips.category, flips.benchmark,
               count(*) as n_models,
               sum(flips.n_items) as n_items,
               sum(flips.n_correct_to_correct) as n_correct_to_correct,
               sum(flips.n_correct_to_wrong) as n_correct_to_wrong,
               sum(flips.n_wrong_to_correct) as n_wrong_to_correct,
               sum(flips.n_wrong_to_wrong) as n_wrong_to_wrong,
               avg(flips.r_prob_gold) as mean_r_prob_gold
        from marts.fct_item_stage_flips as flips
        inner join marts.dim_benchmarks as benchmarks
            on flips.benchmark = benchmarks.benchmark
            and flips.length_normalization = benchmarks.primary_normalization
        group by all
        order by flips.scale, flips.category, flips.benchmark
        """,
    )
