"""Benchmark and mixture configs as lake tables (lake/config_benchmarks, lake/config_mixtures).

Used by: xstage build, first thing, so that SQL never parses YAML; the dbt sources read them
like any other lake table.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from xstage import lake
from xstage.config import BenchmarkConfig, MixtureConfig, load_all

CONFIG_BENCHMARKS = pa.schema(
    [
        ("benchmark", pa.string()),
        ("display_name", pa.string()),
        ("category", pa.string()),
        ("chance_accuracy", pa.float64()),
        ("primary_normalization", pa.string()),
        ("formulation", pa.string()),
        ("n_fewshot", pa.int64()),
        ("benchmark_version", pa.int64()),
    ]
)
CONFIG_MIXTURES = pa.schema(
    [
        ("mixture", pa.string()),
        ("display_name", pa.string()),
        ("study", pa.string()),
        ("web_source", pa.string()),
        ("web_share", pa.float64()),
        ("code_share", pa.float64()),
        ("curated_share", pa.float64()),
    ]
)


def benchmark_rows() -> pa.Table:
    """One row per benchmark config under configs/benchmarks."""
    configs: list[BenchmarkConfig] = load_all("benchmarks")  # type: ignore[assignment]
    rows = [
        {
            "benchmark": cfg.id,
            "display_name": cfg.display_name,
            "category": cfg.category,
            "chance_accuracy": cfg.chance_accuracy,
            "primary_normalization": cfg.primary_normalization,
            "formulation": cfg.formulation,
            "n_fewshot": cfg.n_fewshot,
            "benchmark_version": cfg.version,
        }
        for cfg in configs
    ]
    return pa.Table.from_pylist(rows, schema=CONFIG_BENCHMARKS)


def mixture_rows() -> pa.Table:
    """One row per mixture config: web source and (web, code, curated) shares."""
    configs: list[MixtureConfig] = load_all("mixtures")  # type: ignore[assignment]
    rows = [
        {
            "mixture": cfg.id,
            "display_name": cfg.display_name,
            "study": cfg.study,
            "web_source": cfg.web_source,
            "web_share": cfg.proportions[0],
            "code_share": cfg.proportions[1],
            "curated_share": cfg.proportions[2],
        }
        for cfg in configs
    ]
    return pa.Table.from_pylist(rows, schema=CONFIG_MIXTURES)


def export_config_dimensions(root: Path | None = None) -> dict[str, int]:
    """Write the benchmark and mixture config dimensions to the lake; return row counts.

    A file whose rows are unchanged is left alone, so its mtime (part of the lake signature)
    moves only when a config does.
    """
    import pyarrow.parquet as pq

    tables = {"config_benchmarks": benchmark_rows(), "config_mixtures": mixture_rows()}
    for name, table in tables.items():
        path = lake.config_export_path(name, root)
        if path.exists() and pq.read_table(path).equals(table):
            continue
        lake.write_parquet(table, path, table.schema)
    return {name: table.num_rows for name, table in tables.items()}
