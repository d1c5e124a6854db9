"""Ad-hoc correlation slicing over the marts, returning polars frames.

Used by: Python users (`from warehouse import slices`) and notebooks; the marts hold the study's
fixed tables, this module re-slices them (a subset of units, another grouping) on the fly.
Identifiers come from closed sets; every value is a bound parameter.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from scipy import stats

from warehouse.queries import run_sql

METRIC_COLUMNS = {"accuracy": "accuracy", "confidence": "mean_confidence"}
GROUPINGS = ("benchmark", "category", "all")
METHODS = ("pearson", "spearman")
# "primary": each benchmark at its config's primary_normalization (the report's choice)
NORMALIZATIONS = ("none", "per_token", "per_char", "per_byte", "primary")

# Per scale x benchmark: PT vs SFT values per unit (seed-averaged), then Pearson on values or on
# tie-averaged ranks (Spearman). `{value}` is a column from METRIC_COLUMNS, never user text.
_PAIRED_SQL = """
with scores as (
    select scale, mixture as unit, benchmark, category, stage, avg({value}) as value
    from marts.fct_benchmark_scores
    where (length_normalization = $normalization
           or ($normalization = 'primary' and is_primary_normalization))
      and ($scale is null or scale = $scale)
      and ($units is null or list_contains($units, mixture))
    group by all
),
paired as (
    select pt.scale, pt.benchmark, pt.category, pt.unit, pt.value as pt_value, sft.value as sft_value
    from scores as pt
    inner join scores as sft
        on pt.scale = sft.scale and pt.benchmark = sft.benchmark and pt.unit = sft.unit
    where pt.stage = 'pretrain' and sft.stage = 'sft'
),
ranked as (
    select
        *,
        rank() over (partition by scale, benchmark order by round(pt_value, 12))
        + (count(*) over (partition by scale, benchmark, round(pt_value, 12)) - 1) / 2.0 as pt_rank,
        rank() over (partition by scale, benchmark order by round(sft_value, 12))
        + (count(*) over (partition by scale, benchmark, round(sft_value, 12)) - 1) / 2.0 as sft_rank
    from paired
),
correlated as (
    select
        scale,
        benchmark,
        any_value(category) as category,
        count(*) as n,
        case when $method = 'spearman' then corr(sft_rank, pt_rank) else corr(sft_value, pt_value) end as r,
        stddev_pop(pt_value) <= 1e-12 * greatest(1.0, abs(avg(pt_value)))
        or stddev_pop(sft_value) <= 1e-12 * greatest(1.0, abs(avg(sft_value))) as is_constant
    from ranked
    group by scale, benchmark
),
final as (
    -- DESIGN §10: r is NULL when n < 3 or a side has zero variance. As in the marts, a relative
    -- spread under 1e-12 counts as zero (parallel sums of equal values differ in the last bits)
    -- and ranks tie on values rounded to 12 decimals.
    select scale, benchmark, category, n, case when n < 3 or is_constant then null else r end as r
    from correlated
)
select * from final order by scale, benchmark
"""


def _check(value: str, allowed: tuple[str, ...] | dict, name: str) -> str:
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


def _p_value(r: float | None, n: int) -> float | None:
    """Two-sided p of a correlation with n - 2 degrees of freedom (None when undefined)."""
    if r is None or n < 3 or r != r:
        return None
    if abs(r) >= 1.0:
        return 0.0
    t = r * ((n - 2) / (1.0 - r * r)) ** 0.5
    return float(2.0 * stats.t.sf(abs(t), n - 2))


def correlate(
    metric: str = "accuracy",
    by: str = "category",
    scale: str | None = None,
    method: str = "pearson",
    normalization: str = "none",
    units: list[str] | None = None,
    database: Path | None = None,
) -> pl.DataFrame:
    """Cross-stage correlation (PT vs SFT across units) of `metric`, grouped `by`.

    Per scale x benchmark, r correlates the units' pretraining values with their SFT values
    (seed-averaged), restricted to `units` if given. `by="category"` or `"all"` then averages
    r over benchmarks, unweighted, as the paper does.
    """
    value = METRIC_COLUMNS[_check(metric, METRIC_COLUMNS, "metric")]
    _check(by, GROUPINGS, "by")
    params = {
        "normalization": _check(normalization, NORMALIZATIONS, "normalization"),
        "scale": scale,
        "units": units,
        "method": _check(method, METHODS, "method"),
    }
    per_benchmark = run_sql(_PAIRED_SQL.format(value=value), params, database)
    per_benchmark = per_benchmark.with_columns(
        pl.struct("r", "n")
        .map_elements(lambda row: _p_value(row["r"], row["n"]), return_dtype=pl.Float64)
        .alias("p_value"),
        pl.lit(metric).alias("metric"),
        pl.lit(method).alias("method"),
    )
    if by == "benchmark":
        return per_benchmark
    keys = ["scale"] if by == "all" else ["scale", "category"]
    grouped = per_benchmark.group_by(keys, maintain_order=True).agg(
        pl.len().alias("n_benchmarks"), pl.col("r").mean().alias("mean_r")
    )
    if by == "all":
        grouped = grouped.with_columns(pl.lit("all").alias("category"))
    return grouped.with_columns(pl.lit(metric).alias("metric"), pl.lit(method).alias("method"))


def transfer_table(
    scale: str | None = None,
    metric: str | None = None,
    method: str = "pearson",
    normalization: str = "none",
    category: str | None = None,
    database: Path | None = None,
) -> pl.DataFrame:
    """Rows of marts.fct_cross_stage_transfer, filtered; every filter is a bound parameter."""
    if metric is not None:
        _check(metric, METRIC_COLUMNS, "metric")
    sql = """
        select * from marts.fct_cross_stage_transfer
        where method = $method
          and (length_normalization = $normalization
               or ($normalization = 'primary' and is_primary_normalization))
          and ($scale is null or scale = $scale)
          and ($metric is null or metric = $metric)
          and ($category is null or category = $category)
        order by scale, category, benchmark, metric
    """
    params = {
        "method": _check(method, METHODS, "method"),
        "normalization": _check(normalization, NORMALIZATIONS, "normalization"),
        "scale": scale,
        "metric": metric,
        "category": category,
    }
    return run_sql(sql, params, database)


DECISION_METRICS = ("accuracy", "confidence", "prob_gold", "nll")
COMPARISONS = ("pretrain_vs_sft", "scale_vs_scale")
LEVELS = ("benchmark", "category")


def checkpoint_noise(
    metric: str = "accuracy",
    normalization: str = "primary",
    scale: str | None = None,
    stage: str | None = None,
    database: Path | None = None,
) -> pl.DataFrame:
    """Signal, noise and SNR per scale x stage x benchmark (marts.fct_checkpoint_noise)."""
    sql = """
        select noise.* from marts.fct_checkpoint_noise as noise
        inner join marts.dim_benchmarks as benchmarks using (benchmark)
        where noise.metric = $metric
          and (noise.length_normalization = $normalization
               or ($normalization = 'primary'
                   and noise.length_normalization = benchmarks.primary_normalization))
          and ($scale is null or noise.scale = $scale)
          and ($stage is null or noise.stage = $stage)
        order by noise.scale, noise.stage, noise.snr desc nulls last, noise.benchmark
    """
    params = {
        "metric": _check(metric, DECISION_METRICS, "metric"),
        "normalization": _check(normalization, NORMALIZATIONS, "normalization"),
        "scale": scale,
        "stage": stage,
    }
    return run_sql(sql, params, database)


def decision_accuracy(
    comparison: str = "pretrain_vs_sft",
    level: str = "benchmark",
    metric: str | None = None,
    normalization: str = "primary",
    database: Path | None = None,
) -> pl.DataFrame:
    """Share of mixture pairs two settings order alike (marts.fct_decision_accuracy)."""
    sql = """
        select * from marts.fct_decision_accuracy
        where comparison = $comparison and level = $level
          and ($metric is null or metric = $metric)
          and (length_normalization is not distinct from
                   (case when $normalization = 'primary' then null else $normalization end)
               or ($normalization = 'primary' and $level = 'benchmark'
                   and is_primary_normalization))
        order by scale_a, stage_a, scale_b, stage_b, subject, metric
    """
    params = {
        "comparison": _check(comparison, COMPARISONS, "comparison"),
        "level": _check(level, LEVELS, "level"),
        "metric": None if metric is None else _check(metric, DECISION_METRICS, "metric"),
        "normalization": _check(normalization, NORMALIZATIONS, "normalization"),
    }
    return run_sql(sql, params, database)


def transfer_uncertainty(
    metric: str | None = None,
    level: str | None = None,
    scale: str | None = None,
    database: Path | None = None,
) -> pl.DataFrame:
    """Transfer r and decision accuracy with bootstrap and Fisher-z intervals."""
    sql = """
        select * from marts.fct_transfer_uncertainty
        where ($metric is null or metric = $metric)
          and ($level is null or level = $level)
          and ($scale is null or scale = $scale)
        order by scale, level, subject, metric
    """
    params = {
        "metric": None if metric is None else _check(metric, DECISION_METRICS, "metric"),
        "level": None if level is None else _check(level, LEVELS, "level"),
        "scale": scale,
    }
    return run_sql(sql, params, database)
