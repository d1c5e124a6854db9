"""DuckDB resources of one build: configs/warehouse/default.yaml, then environment overrides.

Used by: xstage build (dbt threads) and warehouse/dbt_plugin.py, which applies the DuckDB
settings to the connection dbt opens (so plain `dbt build` in dbt_project/ gets them too).
"""

from __future__ import annotations

import os
from pathlib import Path

from xstage.config import WarehouseConfig, config_dir, load_file

CONFIG_ID = "default"
# one environment variable per field, for a single run (a benchmark, a smaller box)
OVERRIDES = {
    "memory_limit": "XSTAGE_DUCKDB_MEMORY_LIMIT",
    "temp_directory": "XSTAGE_DUCKDB_TEMP_DIRECTORY",
    "threads": "XSTAGE_DUCKDB_THREADS",
    "dbt_threads": "XSTAGE_DBT_THREADS",
}


def warehouse_config() -> WarehouseConfig:
    """configs/warehouse/default.yaml (the model's defaults where the file is absent) + env.

    Raises ConfigError naming the file, or the environment variable, and the bad field.
    """
    from xstage.config import parse_config

    path = config_dir() / "warehouse" / f"{CONFIG_ID}.yaml"
    config = load_file(path, WarehouseConfig) if path.is_file() else WarehouseConfig(id=CONFIG_ID)
    values = config.model_dump()
    changed = {}
    for name, variable in OVERRIDES.items():
        raw = os.environ.get(variable, "").strip()
        if raw:
            changed[name] = None if raw.lower() in {"none", "null"} else raw
            values[name] = changed[name]
    if not changed:
        return config
    names = ", ".join(OVERRIDES[name] for name in changed)
    return parse_config(values, WarehouseConfig, Path(f"environment ({names})"))


def duckdb_settings(data: Path, config: WarehouseConfig | None = None) -> dict[str, str]:
    """`SET name = value` pairs for the build's DuckDB database (temp directory created)."""
    config = config or warehouse_config()
    temp = Path(config.temp_directory).expanduser()
    temp = temp if temp.is_absolute() else data / temp
    temp.mkdir(parents=True, exist_ok=True)
    settings = {
        "memory_limit": config.memory_limit,
        "temp_directory": str(temp),
        "preserve_insertion_order": str(config.preserve_insertion_order).lower(),
    }
    if config.threads is not None:
        settings["threads"] = str(config.threads)
    return settings
