"""Item-bootstrap intervals of the transfer r and decision accuracy, per comparison and metric.

Used by: xstage build (feeds marts.fct_transfer_uncertainty and the interval columns of
marts.fct_decision_accuracy; definitions in docs/metrics_decisions.md). grain: one row per
comparison x scale_a x stage_a x scale_b x stage_b x level (benchmark | category) x subject x
metric, at each benchmark's primary length_normalization (DESIGN §10 allows primary only).
Comparisons as in fct_decision_accuracy: pretrain_vs_sft (A = PT, B = SFT of one scale) and
scale_vs_scale (A = the smaller scale by n_params_nominal then name, B = the larger, one stage).
Per-item values are seed-averaged per scale x mixture x stage; a comparison keeps the mixtures
scored on both sides and the items every one of those cells has, sorted by item_id. The resample
plan of a benchmark with n such items is numpy default_rng([seed, crc32(benchmark), n])
.integers(0, n, (B, n)), the same for every cell (the pairing by item survives). nll is
sign-flipped (higher is better: decision accuracy then orders as for the other metrics; r is
unchanged). Each resample's unit means are rounded to 12 decimals, then give r (NULL rule of
macros/statistics.sql: n < 3 or a side's std <= 1e-12 x max(1, |mean|)) and decision accuracy
(pairs tied on either side left out); a category's resample b is the mean over its benchmarks of
their resample b: of r for r, of the unrounded unit means (then rounded) for decision accuracy.
Intervals: 2.5% and 97.5% quantiles (numpy 'linear') of the defined resampled values.
tests/warehouse/reference_bootstrap.py recomputes all of it.
"""

import functools
import warnings
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

METRICS = ("accuracy", "confidence", "prob_gold", "nll")
STAGES = ("pretrain", "sft")
DECIMALS = 12
KEYS = ("comparison", "scale_a", "stage_a", "scale_b", "stage_b")

ITEMS_SQL = """
select preds.scale, preds.benchmark, preds.category, preds.mixture, preds.stage, preds.item_id,
    avg(cast(preds.is_correct as double)) as accuracy, avg(preds.confidence) as confidence,
    avg(preds.prob_gold) as prob_gold, -avg(preds.nll) as nll
from item_predictions as preds
inner join benchmarks
    on preds.benchmark = benchmarks.benchmark
    and preds.length_normalization = benchmarks.primary_normalization
group by all
order by preds.benchmark  -- stored by benchmark: each benchmark's query reads its own row groups
"""
ITEMS_TABLE = "xstage_transfer_bootstrap_items"
# smaller first, as fct_decision_accuracy orders them
SCALES_SQL = """
select scale from leaves group by scale order by max(n_params_nominal) nulls first, scale
"""
GROUPS_SQL = f"select benchmark, any_value(category) from {ITEMS_TABLE} group by 1 order by 1"
VALUES_SQL = f"select * exclude (benchmark, category) from {ITEMS_TABLE} where benchmark = $1"


@functools.lru_cache(maxsize=2)  # one benchmark at a time; its comparisons mostly share n
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


def row(key, level, subject, category, metric, mixtures, n_items, point, draws):
    """One output row: point r / decision accuracy and their bootstrap intervals."""
    r_low, r_high, r_n = interval(draws[0])
    da_low, da_high, da_n = interval(draws[1])
    return {
        **dict(zip(KEYS, key, strict=True)), "level": level, "subject": subject, "category": category,
        "metric": metric, "n_mixtures": mixtures, "n_items": n_items,
        "r": point[0], "r_boot_low": r_low, "r_boot_high": r_high, "n_r_resamples": r_n,
        "decision_accuracy": point[1], "decision_accuracy_boot_low": da_low,
        "decision_accuracy_boot_high": da_high, "n_decision_resamples": da_n,
    }  # fmt: skip


def comparisons(scales):
    """(key, side A cell, side B cell) of every comparison; a cell is (scale index, stage index)."""
    for index, scale in enumerate(scales):
        yield ("pretrain_vs_sft", scale, "pretrain", scale, "sft"), (index, 0), (index, 1)
    for stage_index, stage in enumerate(STAGES):
        for a, small in enumerate(scales):
            for b in range(a + 1, len(scales)):
                key = ("scale_vs_scale", small, stage, scales[b], stage)
                yield key, (a, stage_index), (b, stage_index)


def indices(column, values):
    """Position of each entry of an Arrow column in `values` (numpy int array)."""
    value_set = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return pc.index_in(column, value_set=value_set).to_numpy(zero_copy_only=False)


def benchmark_cube(table, scales):
    """A benchmark's per-item values: (scales x mixtures x stages x items x metrics) array.

    NaN where a cell lacks an item or a value is NULL; with the presence mask and the mixtures.
    """
    mixtures = sorted(pc.unique(table["mixture"]).to_pylist())
    items = pc.unique(table["item_id"])
    items = items.take(pc.sort_indices(items))
    where = tuple(
        indices(table[name], values)
        for name, values in (("scale", scales), ("mixture", mixtures), ("stage", STAGES),
                             ("item_id", items))
    )  # fmt: skip
    shape = (len(scales), len(mixtures), len(STAGES), len(items))
    present = np.zeros(shape, dtype=bool)
    present[where] = True
    cube = np.full((*shape, len(METRICS)), np.nan)
    cube[where] = np.column_stack(
        [table[m].to_numpy(zero_copy_only=False).astype(np.float64) for m in METRICS]
    )
    return cube, present, mixtures


def comparison_plan(present, side_a, side_b):
    """(mixture indices scored on both sides, mask of the items all their cells have)."""
    on_a, on_b = present[side_a[0], :, side_a[1]], present[side_b[0], :, side_b[1]]
    units = np.flatnonzero(on_a.any(axis=-1) & on_b.any(axis=-1))
    return units, on_a[units].all(axis=0) & on_b[units].all(axis=0)


def cell_means(cube, mask, counts):
    """Every cell's item means over the masked items: full sample and each resample.

    Unrounded: a category averages them before rounding, as fct_decision_accuracy does.
    """
    values = cube[:, :, :, mask]
    n = values.shape[3]
    flat = np.moveaxis(values, 3, 0).reshape(n, -1)
    full = flat.mean(axis=0).reshape(*values.shape[:3], -1)
    # one BLAS matrix product: (B x n) @ (n x cells*metrics)
    resampled = (counts @ flat / n).reshape(len(counts), *values.shape[:3], -1)
    return full, resampled


def side_values(means, side, units):
    """(... x units x metrics): the means of one side's cell (scale, stage) for `units`."""
    return means[..., side[0], units, side[1], :]


def benchmark_rows(benchmark, category, cube, present, mixtures, scales, seed, resamples):
    """Rows of one benchmark (every comparison); its per-comparison means for the category rows."""
    rows, kept, means = [], {}, {}
    for key, side_a, side_b in comparisons(scales):
        units, mask = comparison_plan(present, side_a, side_b)
        n = int(mask.sum())
        if len(units) == 0 or n == 0:
            continue
        items = mask.tobytes()  # comparisons with the same items share one product
        if items not in means:
            means[items] = cell_means(cube, mask, resample_counts(seed, benchmark, n, resamples))
        full, resampled = means[items]
        raw_full = np.stack([side_values(full, s, units) for s in (side_a, side_b)], axis=-2)
        raw_draws = np.stack([side_values(resampled, s, units) for s in (side_a, side_b)], -2)
        full_ab, draws_ab = np.round(raw_full, DECIMALS), np.round(raw_draws, DECIMALS)
        names = [mixtures[u] for u in units]
        kept[key] = {}
        for index, metric in enumerate(METRICS):
            a, b = draws_ab[:, :, 0, index], draws_ab[:, :, 1, index]
            draws = (pearson_rows(a, b), agreement_rows(a, b))
            point = pearson_rows(full_ab[None, :, 0, index], full_ab[None, :, 1, index])[0]
            share = agreement_rows(full_ab[None, :, 0, index], full_ab[None, :, 1, index])[0]
            rows.append(row(key, "benchmark", benchmark, category, metric, len(units), n,
                            (point, share), draws))  # fmt: skip
            kept[key][metric] = (names, raw_full[:, :, index], raw_draws[:, :, :, index], point,
                                 draws[0])  # fmt: skip
    return rows, kept


def category_rows(key, category, members):
    """Rows of one comparison x category from its benchmarks' kept means (benchmark_rows)."""
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
            # rounded after the mean, as in fct_decision_accuracy: a tie there is a tie here
            unit_full = np.round(np.nanmean(full, axis=0), DECIMALS)
            unit_draws = np.round(np.nanmean(resampled, axis=0), DECIMALS)
            r_point = np.nanmean([p[3] for p in parts])
            r_draws = np.nanmean(np.stack([p[4] for p in parts]), axis=0)
        share = agreement_rows(unit_full[None, :, 0], unit_full[None, :, 1])[0]
        draws = (r_draws, agreement_rows(unit_draws[:, :, 0], unit_draws[:, :, 1]))
        rows.append(row(key, "category", category, category, metric, len(mixtures), None,
                        (r_point, share), draws))  # fmt: skip
    return rows


def model(dbt, session):
    """Bootstrap every benchmark (all its comparisons), then every comparison x category.

    Memory is one benchmark at a time, not the lake: the item means go into a DuckDB temp table
    (spillable, sorted by benchmark), and each benchmark's values are fetched alone (the 30x lake
    has 43M such rows; all of them at once did not fit beside DuckDB in 24 GiB).
    """
    seed = int(dbt.config.get("bootstrap_seed"))
    resamples = int(dbt.config.get("bootstrap_resamples"))
    item_predictions = dbt.ref("int_item_predictions_scored")  # noqa: F841 (replacement scan)
    benchmarks = dbt.ref("int_benchmarks_resolved")  # noqa: F841 (replacement scan)
    leaves = dbt.ref("int_prediction_leaves_resolved")  # noqa: F841 (replacement scan)
    if resamples <= 0:  # bootstrap off (benchmarks/decisions_bench.py's baseline)
        return output_table([], seed, resamples)
    scales = [name for (name,) in session.sql(SCALES_SQL).fetchall()]
    # .sql, not .execute: its replacement scan sees this frame's item_predictions and benchmarks
    session.sql(f"create or replace temp table {ITEMS_TABLE} as {ITEMS_SQL}")
    try:
        rows, by_category = [], {}
        for benchmark, category in session.execute(GROUPS_SQL).fetchall():
            table = session.sql(VALUES_SQL, params=[benchmark]).to_arrow_table()
            cube, present, mixtures = benchmark_cube(table, scales)
            found, kept = benchmark_rows(benchmark, category, cube, present, mixtures, scales,
                                         seed, resamples)  # fmt: skip
            rows += found
            for key, means in kept.items():
                by_category.setdefault((key, category), []).append(means)
    finally:
        session.execute(f"drop table if exists {ITEMS_TABLE}")
    for (key, category), members in sorted(by_category.items()):
        rows += category_rows(key, category, members)
    return output_table(rows, seed, resamples)


def output_table(rows, seed, resamples):
    """The model's Arrow table (NaN written as NULL)."""
    names = [*KEYS, "level", "subject", "category", "metric"]
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
