"""Item-bootstrap 95% CIs of accuracy and mean confidence at each benchmark's primary normalization.

Other normalizations would cost 4-5x more (DESIGN §10 allows primary only).
grain: one row per run_id x stage x benchmark (leaf) at its primary length_normalization.
The resample plan is fixed by (bootstrap_seed, n_items): numpy
default_rng([seed, n]).integers(0, n, size=(resamples, n)) indexes the group's items sorted by
item_id; warehouse/metrics.py draws the same plan and gathers, this model multiplies the plan's
count matrix with every group of that size at once (one BLAS call per n instead of a loop).
CIs are the 2.5% and 97.5% quantiles (numpy 'linear'); NULL confidence anywhere in a group makes
its confidence CI NULL. Rows of unchanged leaves are carried over from the previous build (see model()).
"""

import numpy as np
import pyarrow as pa

# Bump when the resampling or quantile rule changes: rows of older plans are recomputed.
PLAN_VERSION = 1
CI_COLUMNS = ["accuracy_ci_low", "accuracy_ci_high", "confidence_ci_low", "confidence_ci_high"]
OUTPUT_COLUMNS = [
    "leaf_fingerprint",
    "length_normalization",
    *CI_COLUMNS,
    "bootstrap_seed",
    "bootstrap_resamples",
    "plan_version",
]


def resample_counts(seed, n, resamples):
    """(resamples x n) matrix: how often each sorted item is drawn in each resample."""
    draws = np.random.default_rng([seed, n]).integers(0, n, size=(resamples, n))
    flat = (np.arange(resamples)[:, None] * n + draws).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def group_bounds(table):
    """Start offsets of each (leaf_fingerprint, length_normalization) group in the sorted table."""
    keys = table["group_hash"].to_numpy()
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, np.r_[starts[1:], len(keys)]


def intervals(table, seed, resamples):
    """Per group: accuracy and confidence CI bounds (NaN where undefined)."""
    correct = table["is_correct"].to_numpy(zero_copy_only=False).astype(np.float64)
    confidence = table["confidence"].to_numpy(zero_copy_only=False).astype(np.float64)
    starts, ends = group_bounds(table)
    sizes = ends - starts
    bounds = np.full((len(starts), 4), np.nan)
    for n in np.unique(sizes):
        groups = np.flatnonzero(sizes == n)
        columns = starts[groups][None, :] + np.arange(n)[:, None]  # (n, groups)
        counts = resample_counts(seed, int(n), resamples)
        for offset, values in ((0, correct), (2, confidence)):
            means = counts @ values[columns] / n  # (resamples, groups)
            bounds[groups, offset : offset + 2] = np.quantile(means, [0.025, 0.975], axis=0).T
    return starts, bounds


def previous_rows(dbt, session, seed, resamples):
    """This model's rows from the last build that are still valid (same leaf and plan)."""
    exists = session.sql(
        "select count(*) from information_schema.tables"
        f" where table_schema = '{dbt.this.schema}' and table_name = '{dbt.this.identifier}'"
    ).fetchall()[0][0]
    if not exists:
        return None
    leaves = dbt.ref("int_prediction_leaves_resolved")  # noqa: F841 (replacement scan below)
    try:
        return session.sql(
            f"select {', '.join(OUTPUT_COLUMNS)} from {dbt.this}"
            f" where bootstrap_seed = {seed} and bootstrap_resamples = {resamples}"
            f" and plan_version = {PLAN_VERSION}"
            " and leaf_fingerprint in (select leaf_fingerprint from leaves)"
        ).to_arrow_table()
    except Exception:  # an older layout of this table: recompute everything
        return None


def model(dbt, session):
    """Reuse still-valid rows of the previous build; bootstrap only new leaves.

    A table (not a dbt incremental model: dbt-duckdb 1.11 cannot merge incremental Python models
    inside its transaction), so a leaf that leaves the lake simply is not carried over.
    """
    seed = int(dbt.config.get("bootstrap_seed"))
    resamples = int(dbt.config.get("bootstrap_resamples"))
    item_predictions = dbt.ref("int_item_predictions_scored")  # noqa: F841 (replacement scan below)
    benchmarks = dbt.ref("int_benchmarks_resolved")  # noqa: F841 (replacement scan below)
    kept = previous_rows(dbt, session, seed, resamples)
    done = pa.array([], pa.uint64()) if kept is None else kept["leaf_fingerprint"]
    # Only numbers cross into Python: the sort key stays in DuckDB, groups are told apart by
    # group_hash and named afterwards from a small query.
    # the primary normalization only (DESIGN §10 allows it; 4-5x less work than every one)
    pending = (
        "leaf_fingerprint not in (select unnest($done)) and (benchmark, length_normalization) in"
        " (select (benchmark, primary_normalization) from benchmarks)"
    )
    table = session.sql(
        "select hash(leaf_fingerprint, length_normalization) as group_hash, is_correct, confidence"
        f" from item_predictions where {pending}"
        " order by leaf_fingerprint, length_normalization, item_id",
        params={"done": done.to_pylist()},
    ).to_arrow_table()
    names = session.sql(
        "select distinct hash(leaf_fingerprint, length_normalization) as group_hash,"
        f" leaf_fingerprint, length_normalization from item_predictions where {pending}",
        params={"done": done.to_pylist()},
    ).fetchall()
    starts, bounds = intervals(table, seed, resamples)
    by_hash = {row[0]: row[1:] for row in names}
    heads = [by_hash[h] for h in table["group_hash"].to_numpy()[starts]] if len(starts) else []
    out = {
        "leaf_fingerprint": pa.array([h[0] for h in heads], pa.uint64()),
        "length_normalization": pa.array([h[1] for h in heads], pa.string()),
    }
    for index, name in enumerate(CI_COLUMNS):
        out[name] = pa.array(bounds[:, index], pa.float64(), from_pandas=True)
    n = len(starts)
    out["bootstrap_seed"] = pa.array([seed] * n, pa.int64())
    out["bootstrap_resamples"] = pa.array([resamples] * n, pa.int64())
    out["plan_version"] = pa.array([PLAN_VERSION] * n, pa.int64())
    fresh = pa.table(out)
    return fresh if kept is None else pa.concat_tables([kept.cast(fresh.schema), fresh])
