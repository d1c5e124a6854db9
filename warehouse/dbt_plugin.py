"""dbt-duckdb plugin registering the statistics DuckDB lacks (it has no t distribution).

Used by: `xstage build` and `cd dbt_project && dbt build` (profiles.yml lists this module).
It also applies the DuckDB resources of configs/warehouse (warehouse/settings.py) to the connection.
`xstage_r_pvalue(r, n)` is the two-sided p-value of a correlation coefficient under the null,
t = r sqrt((n - 2) / (1 - r^2)) with n - 2 degrees of freedom (what scipy.stats.pearsonr and
spearmanr report), computed exactly as the regularised incomplete beta I_{1-r^2}((n-2)/2, 1/2).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import BIGINT, DOUBLE


def r_pvalue(r: float | None, n: int | None) -> float | None:
    """Two-sided p of correlation `r` over `n` pairs; None when undefined (n < 3 or r NULL)."""
    from scipy.special import betainc

    if r is None or n is None or n < 3 or math.isnan(r):
        return None
    r = max(-1.0, min(1.0, r))
    if abs(r) == 1.0:
        return 0.0
    df = n - 2
    return float(min(1.0, betainc(df / 2.0, 0.5, 1.0 - r * r)))


def r_pvalues(r: pa.Array, n: pa.Array) -> pa.Array:
    """`r_pvalue` over whole Arrow vectors (one vectorised betainc call per DuckDB chunk).

    Same arithmetic element by element: NULL where r or n is NULL, r is NaN or n < 3; 0 where
    |r| = 1 after clipping r to [-1, 1]; else min(1, I_{1-r^2}((n-2)/2, 1/2)).
    """
    import numpy as np
    from scipy.special import betainc

    rs = r.to_numpy(zero_copy_only=False).astype(np.float64)  # NULL -> NaN
    ns = n.to_numpy(zero_copy_only=False).astype(np.float64)
    undefined = np.isnan(rs) | np.isnan(ns) | (ns < 3)
    clipped = np.clip(np.where(undefined, 0.0, rs), -1.0, 1.0)
    df = np.where(undefined, 3.0, ns) - 2.0
    with np.errstate(all="ignore"):
        p = np.minimum(1.0, betainc(df / 2.0, 0.5, 1.0 - clipped * clipped))
    p = np.where(np.abs(clipped) == 1.0, 0.0, p)
    return pa.array(p, pa.float64(), mask=undefined)


class Plugin(BasePlugin):
    """Applies configs/warehouse (memory, spill dir, threads); registers xstage_r_pvalue."""

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        """Set the build's DuckDB resources; add the UDFs (NULL in -> NULL out, Arrow chunks)."""
        from warehouse.settings import duckdb_settings

        data = Path(os.environ.get("XSTAGE_DATA_DIR", "../data")).resolve()
        for name, value in duckdb_settings(data).items():
            quoted = value.replace("'", "''")
            conn.execute(f"set {name} = '{quoted}'")
        conn.create_function(
            "xstage_r_pvalue", r_pvalues, [DOUBLE, BIGINT], DOUBLE, type="arrow",
            null_handling="special",
        )  # fmt: skip
