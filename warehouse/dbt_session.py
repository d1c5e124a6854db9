"""The in-process dbt session of one `xstage build`: its environment and its DuckDB handle.

Used by: xstage build (warehouse/build.py). dbt-duckdb keeps one database handle per process
across invocations; a build must close it, and checkpoint the file, before renaming it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the dbt invocation and restore them afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def close_dbt_connections() -> None:
    """Close dbt-duckdb's cached in-process database handle (kept across invocations).

    dbt-duckdb's own `close_all_connections` only drops the reference; an open handle to a
    deleted or renamed file would be reused by the next build with the same credentials.
    """
    import sys

    module = sys.modules.get("dbt.adapters.duckdb.connections")
    if module is None:
        return
    manager = module.DuckDBConnectionManager
    with manager._LOCK:
        handle, manager._ENV = manager._ENV, None
    if handle is not None:
        handle.close()


def seal(path: Path) -> None:
    """Close dbt's DuckDB connection and checkpoint `path` so it stands alone (no WAL).

    dbt-duckdb keeps its connection open across in-process invocations; renaming the file while
    changes sit in its .wal would lose them.
    """
    import duckdb

    close_dbt_connections()
    with duckdb.connect(str(path)) as connection:
        connection.execute("checkpoint")
    wal = path.with_name(path.name + ".wal")
    assert not wal.exists(), f"{wal} survived a checkpoint"
