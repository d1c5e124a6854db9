"""Item-bootstrap intervals of the PT -> SFT transfer r and decision accuracy, per metric.

Used by: xstage build (feeds marts.fct_transfer_uncertainty; definitions in
docs/metrics_decisions.md). grain: one row per scale x level (benchmark | category) x subject x
metric, at each benchmark's primary length_normalization (DESIGN §10 allows primary only).
Per-item values are seed-averaged per mixture x stage; a benchmark keeps the mixtures scored at
both stages and the items every one of those cells has, sorted by item_id. The resample plan of a
benchmark with n such items is numpy default_rng([seed, crc32(benchmark), n]).integers(0, n,
(B, n)), the same for every mixture and stage (the pairing by item survives). nll is sign-flipped
(higher is better: decision accuracy then orders as for the other metrics; r is unchanged). Each resample's
unit means are rounded to 12 decimals, then give r (NULL rule of macros/statistics.sql: n < 3 or
a side's std <= 1e-12 x max(1, |mean|)) and decision accuracy (pairs tied on either side left
out); a category's resample b is the mean over its benchmarks of their resample b: of r for r,
of the unit means for decision accuracy. Intervals: 2.5% and 97.5% quantiles (numpy 'linear') of
the defined resampled values. tests/warehouse/reference_bootstrap.py recomputes all of it.
"""

import functools
import warnings
import zlib

import numpy as np
import pyarrow as pa

METRICS = ("accuracy", "confidence", "prob_gold", "nll")
DECIMALS = 12

ITEMS_SQL = """
with item_means as (
    select preds.scale, preds.benchmark, preds.category, preds.mixture, preds.stage,
        preds.item_id, avg(cast(preds.is_correct as double)) as accuracy,
        avg(preds.confidence) as confidence, avg(preds.prob_gold) as prob_gold,
        -avg(preds.nll) as nll
    from item_predictions as preds
    inner join benchmarks
        on preds.benchmark = benchmarks.benchmark
        and preds.length_normalization = benchmarks.primary_normalization
    group by all
),
units as (
    select scale, benchmark, mixture from item_means group by all
    having count(distinct stage) = 2
),
kept as (select * from item_means semi join units using (scale, benchmark, mixture)),
cells as (select scale, benchmark, count(distinct (mixture, stage)) as n_cells from kept group by all),
complete as (
    select kept.scale, kept.benchmark, kept.item_id from kept
    inner join cells using (scale, benchmark)
    group by kept.scale, kept.benchmark, kept.item_id, cells.n_cells
    having count(*) = cells.n_cells
)
select * from kept semi join complete using (scale, benchmark, item_id)
order by benchmark, scale  -- stored by group: each group's query reads its own row groups
"""
ITEMS_TABLE = "xstage_transfer_bootstrap_items"
# benchmark by benchmark (the scales of one benchmark share its resample plan: lru_cache below)
GROUPS_SQL = f"""
select scale, benchmark, any_value(category), list(distinct mixture)
from {ITEMS_TABLE} group by scale, benchmark order by benchmark, scale
"""
VALUES_SQL = f"""
select {", ".join(METRICS)} from {ITEMS_TABLE}
where scale = $1 and benchmark = $2 order by mixture, stage, item_id
"""


@functools.lru_cache(maxsize=1)  # groups come benchmark by benchmark: the scales share a plan
def resample_counts(seed, benchmark, n, resamples):
    """(resamples x n): how often each sorted item is drawn in each resample of `benchmark`."""
    rng = np.random.default_rng([seed, zlib.crc32(benchmark.encode()), n])
    draws = rng.integers(0, n, size=(resamples, n))
    flat = (np.arange(resamples)[:, None] * n + draws).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def pearson_rows(x, y):
    """Pearson r of each row pair of x, y (rows x units); NaN where undefined."""
    mean_x, mean_y = x.mean(axis=-1, keepdims=True), y.mean(axis=-1, keepdims=True)
    dx, dy = x - mean_x, y - mean_y
    sxx, syy = (dx * dx).sum(axis=-1), (dy * dy).sum(axis=-1)
    n = x.shape[-1]
    spread_x = np.sqrt(sxx / n) > 1e-12 * np.maximum(1.0, np.abs(mean_x[..., 0]))
    spread_y = np.sqrt(syy / n) > 1e-12 * np.maximum(1.0, np.abs(mean_y[..., 0]))
    defined = (n >= 3) & spread_x & spread_y & ~np.isnan(sxx) & ~np.isnan(syy)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip((dx * dy).sum(axis=-1) / np.sqrt(sxx * syy), -1.0, 1.0)
    return np.where(defined, r, np.nan)


def agreement_rows(x, y):
    """Decision accuracy of each row pair: unit pairs i < j ordered alike / untied pairs."""
    first, second = np.triu_indices(x.shape[-1], 1)
    with np.errstate(invalid="ignore"):
        signs = np.sign(x[..., first] - x[..., second]) * np.sign(y[..., first] - y[..., second])
    agree, disagree = (signs > 0).sum(axis=-1), (signs < 0).sum(axis=-1)
    total = agree + disagree
    return np.where(total > 0, agree / np.maximum(total, 1), np.nan)


def interval(draws):
    """(2.5% quantile, 97.5% quantile, number of defined draws); NaN bounds when none."""
    defined = draws[~np.isnan(draws)]
    if len(defined) == 0:
        return np.nan, np.nan, 0
    low, high = np.quantile(defined, [0.025, 0.975])
    return float(low), float(high), len(defined)


def benchmark_means(values, counts):
    """Unit means (units x stages x metrics) of the full sample and of each resample."""
    units, stages, n, n_metrics = values.shape
    full = np.round(values.mean(axis=2), DECIMALS)
    # one BLAS matrix product: (B x n) @ (n x units*stages*metrics)
    flat = values.transpose(2, 0, 1, 3).reshape(n, -1)
    resampled = (counts @ flat / n).reshape(len(counts), units, stages, n_metrics)
    return full, np.round(resampled, DECIMALS)


def row(scale, level, subject, category, metric, mixtures, n_items, point, draws):
    """One output row: point r / decision accuracy and their bootstrap intervals."""
    r_low, r_high, r_n = interval(draws[0])
    da_low, da_high, da_n = interval(draws[1])
    return {
        "scale": scale, "level": level, "subject": subject, "category": category,
        "metric": metric, "n_mixtures": mixtures, "n_items": n_items,
        "r": point[0], "r_boot_low": r_low, "r_boot_high": r_high, "n_r_resamples": r_n,
        "decision_accuracy": point[1], "decision_accuracy_boot_low": da_low,
        "decision_accuracy_boot_high": da_high, "n_decision_resamples": da_n,
    }  # fmt: skip


def benchmark_rows(group, values, seed, resamples):
    """Rows of one scale x benchmark; also its per-metric means for the category rows."""
    scale, benchmark, category, mixtures = group
    counts = resample_counts(seed, benchmark, values.shape[2], resamples)
    full, resampled = benchmark_means(values, counts)
    rows, kept = [], {}
    for index, metric in enumerate(METRICS):
        pt, sft = resampled[:, :, 0, index], resampled[:, :, 1, index]
        draws = (pearson_rows(pt, sft), agreement_rows(pt, sft))
        point = pearson_rows(full[None, :, 0, index], full[None, :, 1, index])[0]
        share = agreement_rows(full[None, :, 0, index], full[None, :, 1, index])[0]
        rows.append(row(scale, "benchmark", benchmark, category, metric, len(mixtures),
                        values.shape[2], (point, share), draws))  # fmt: skip
        kept[metric] = (mixtures, full[:, :, index], resampled[:, :, :, index], point, draws[0])
    return rows, kept


def category_rows(scale, category, members):
    """Rows of one scale x category from its benchmarks' kept means (benchmark_rows)."""
    rows = []
    for metric in METRICS:
        parts = [member[metric] for member in members]
        mixtures = sorted(set().union(*(set(p[0]) for p in parts)))
        full = np.full((len(parts), len(mixtures), 2), np.nan)
        resampled = np.full((len(parts), parts[0][2].shape[0], len(mixtures), 2), np.nan)
        for k, (names, part_full, part_resampled, _, _) in enumerate(parts):
            columns = [mixtures.index(name) for name in names]
            full[k, columns], resampled[k][:, columns] = part_full, part_resampled
        with warnings.catch_warnings():  # all-NaN means are NaN on purpose
            warnings.simplefilter("ignore", RuntimeWarning)
            unit_full, unit_draws = np.nanmean(full, axis=0), np.nanmean(resampled, axis=0)
            r_point = np.nanmean([p[3] for p in parts])
            r_draws = np.nanmean(np.stack([p[4] for p in parts]), axis=0)
        share = agreement_rows(unit_full[None, :, 0], unit_full[None, :, 1])[0]
        draws = (r_draws, agreement_rows(unit_draws[:, :, 0], unit_draws[:, :, 1]))
        rows.append(row(scale, "category", category, category, metric, len(mixtures), None,
                        (r_point, share), draws))  # fmt: skip
    return rows


def group_values(session, scale, benchmark, n_mixtures):
    """(mixtures x 2 stages x items x metrics) of one scale x benchmark, NULL as NaN."""
    table = session.sql(VALUES_SQL, params=[scale, benchmark]).to_arrow_table()
    columns = [table[m].to_numpy(zero_copy_only=False).astype(np.float64) for m in METRICS]
    return np.column_stack(columns).reshape(n_mixtures, 2, -1, len(METRICS))


def model(dbt, session):
    """Bootstrap every scale x benchmark, then every scale x category.

    Memory is one scale x benchmark at a time, not the lake: the kept item means go into a
    DuckDB temp table (spillable, sorted by group), and each group's numbers are fetched alone
    (the 30x lake has 43M such rows; all of them at once did not fit beside DuckDB in 24 GiB).
    """
    seed = int(dbt.config.get("bootstrap_seed"))
    resamples = int(dbt.config.get("bootstrap_resamples"))
    item_predictions = dbt.ref("int_item_predictions_scored")  # noqa: F841 (replacement scan)
    benchmarks = dbt.ref("int_benchmarks_resolved")  # noqa: F841 (replacement scan)
    if resamples <= 0:  # bootstrap off (benchmarks/decisions_bench.py's baseline)
        return output_table([], seed, resamples)
    # .sql, not .execute: its replacement scan sees this frame's item_predictions and benchmarks
    session.sql(f"create or replace temp table {ITEMS_TABLE} as {ITEMS_SQL}")
    try:
        rows, by_category = [], {}
        for scale, benchmark, category, mixtures in session.execute(GROUPS_SQL).fetchall():
            values = group_values(session, scale, benchmark, len(mixtures))
            group = (scale, benchmark, category, sorted(mixtures))
            found, kept = benchmark_rows(group, values, seed, resamples)
            rows += found
            by_category.setdefault((scale, category), []).append(kept)
    finally:
        session.execute(f"drop table if exists {ITEMS_TABLE}")
    for (scale, category), members in sorted(by_category.items()):
        rows += category_rows(scale, category, members)
    return output_table(rows, seed, resamples)


def output_table(rows, seed, resamples):
    """The model's Arrow table (NaN written as NULL)."""
    names = ["scale", "level", "subject", "category", "metric"]
    out = {name: pa.array([r[name] for r in rows], pa.string()) for name in names}
    for name in ("n_mixtures", "n_items", "n_r_resamples", "n_decision_resamples"):
        out[name] = pa.array([r[name] for r in rows], pa.int64())
    for name in ("r", "r_boot_low", "r_boot_high", "decision_accuracy",
                 "decision_accuracy_boot_low", "decision_accuracy_boot_high"):  # fmt: skip
        values = [None if r[name] is None or np.isnan(r[name]) else float(r[name]) for r in rows]
        out[name] = pa.array(values, pa.float64())
    out["bootstrap_seed"] = pa.array([seed] * len(rows), pa.int64())
    out["bootstrap_resamples"] = pa.array([resamples] * len(rows), pa.int64())
    return pa.table(out)
