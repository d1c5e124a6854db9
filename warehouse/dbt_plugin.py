"""dbt-duckdb plugin registering the statistics DuckDB lacks (it has no t distribution).

Used by: `xstage build` and `cd dbt_project && dbt build` (profiles.yml lists this module).
`xstage_r_pvalue(r, n)` is the two-sided p-value of a correlation coefficient under the null,
t = r sqrt((n - 2) / (1 - r^2)) with n - 2 degrees of freedom (what scipy.stats.pearsonr and
spearmanr report), computed exactly as the regularised incomplete beta I_{1-r^2}((n-2)/2, 1/2).
"""

from __future__ import annotations

import math

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


class Plugin(BasePlugin):
    """Registers xstage_r_pvalue on every connection dbt opens."""

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        """Add the UDFs (NULL in -> NULL out)."""
        conn.create_function(
            "xstage_r_pvalue", r_pvalue, [DOUBLE, BIGINT], DOUBLE, null_handling="special"
        )
