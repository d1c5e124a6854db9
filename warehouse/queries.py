"""Read-only SQL over warehouse.duckdb: ad-hoc statements and named, documented queries.

Used by: xstage query "SQL" | xstage query NAME --param k=v, xstage ls queries, warehouse.slices.
Only single read statements run, on a read-only connection with external access disabled,
so these paths can neither change the warehouse nor read or write other files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from xstage import lake

QUERIES_DIR = Path(__file__).with_name("queries")
READ_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class QueryError(ValueError):
    """A query was refused or failed; the message says why."""


@dataclass(frozen=True)
class NamedQuery:
    """A documented query file under warehouse/queries/."""

    name: str
    description: str
    params: dict[str, str | None]
    """Parameter name -> default (None: required)."""
    sql: str


def connect(database: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only, with file access outside it switched off and locked."""
    path = database or lake.warehouse_path()
    if not path.is_file():
        raise QueryError(f"{path}: no warehouse yet; run `xstage build` first")
    config = {"enable_external_access": False, "lock_configuration": True}
    return duckdb.connect(str(path), read_only=True, config=config)


def check_read_only(sql: str) -> str:
    """Return `sql` if it is exactly one SELECT/EXPLAIN statement; refuse anything else."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"cannot parse query: {exc}") from None
    if len(statements) != 1:
        raise QueryError(f"expected exactly one statement, got {len(statements)}")
    if statements[0].type not in READ_STATEMENTS:
        kind = statements[0].type.name.lower()
        raise QueryError(f"refused: only read queries are allowed here (got a {kind} statement)")
    return sql


def run_sql(
    sql: str, params: dict[str, object] | None = None, database: Path | None = None
) -> pl.DataFrame:
    """Run one read statement with bound `$name` parameters and return a polars frame."""
    check_read_only(sql)
    with connect(database) as connection:
        try:
            return connection.sql(sql, params=params or {}).pl()
        except duckdb.Error as exc:
            raise QueryError(str(exc).splitlines()[0]) from None


def _parse_header(path: Path) -> NamedQuery:
    """Read `-- description:` and `-- param: name[=default]` header lines of a query file."""
    sql = path.read_text(encoding="utf-8")
    description, params = "", {}
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        key, _, value = line[2:].strip().partition(":")
        if key == "description":
            description = value.strip()
        elif key == "param":
            name, has_default, default = value.strip().partition("=")
            params[name.strip()] = default.strip() if has_default else None
    return NamedQuery(path.stem, description, params, sql)


def named_queries() -> dict[str, NamedQuery]:
    """Every named query shipped in warehouse/queries/, by name."""
    return {path.stem: _parse_header(path) for path in sorted(QUERIES_DIR.glob("*.sql"))}


def bind_params(query: NamedQuery, given: dict[str, str]) -> dict[str, str]:
    """Check `given` against the query's declared parameters; fill defaults."""
    unknown = sorted(set(given) - set(query.params))
    if unknown:
        raise QueryError(
            f"query {query.name!r} has no parameter {unknown[0]!r} "
            f"(parameters: {', '.join(query.params) or 'none'})"
        )
    bound = {name: given.get(name, default) for name, default in query.params.items()}
    missing = [name for name, value in bound.items() if value is None]
    if missing:
        raise QueryError(f"query {query.name!r} needs --param {missing[0]}=...")
    return bound


def run_named(name: str, given: dict[str, str], database: Path | None = None) -> pl.DataFrame:
    """Run the named query `name` with `given` parameters bound (never interpolated)."""
    queries = named_queries()
    if name not in queries:
        raise QueryError(f"no named query {name!r} (known: {', '.join(queries)})")
    query = queries[name]
    return run_sql(query.sql, bind_params(query, given), database)


def parse_params(pairs: list[str]) -> dict[str, str]:
    """Turn `k=v` strings from the command line into a dict, checking the names."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not PARAM_NAME.match(name):
            raise QueryError(f"--param {pair!r}: expected name=value with a snake_case name")
        params[name] = value
    return params


def looks_like_sql(text: str) -> bool:
    """A query argument is SQL when it is not a bare query name."""
    return not PARAM_NAME.match(text.strip())


def check_out_path(out: Path) -> Path:
    """Refuse an --out inside the data dir: the read path never overwrites the lake or warehouse."""
    resolved = out.expanduser().resolve()
    data = lake.data_dir()
    if resolved == data or data in resolved.parents:
        raise QueryError(
            f"--out {out}: is inside the data dir {data} (lake, warehouse, runs); "
            f"write query results somewhere else"
        )
    return resolved


def nested_columns(frame: pl.DataFrame) -> list[str]:
    """Columns CSV cannot hold (lists, structs, arrays)."""
    return [name for name, dtype in frame.schema.items() if dtype.is_nested()]


def write_frame(frame: pl.DataFrame, out: Path, fmt: str) -> Path:
    """Write `frame` as CSV or Parquet atomically (temp file, then rename), outside the data dir."""
    out = check_out_path(out)
    if fmt == "csv" and nested_columns(frame):
        raise QueryError(
            f"columns {nested_columns(frame)} are nested (list/struct) and CSV cannot hold them; "
            f"use --format parquet or select them as text (cast(x as varchar))"
        )
    tmp, fd = lake.atomic_path(out)

    os.close(fd)
    try:
        if fmt == "csv":
            frame.write_csv(tmp)
        elif fmt == "parquet":
            frame.write_parquet(tmp, compression="zstd")
        else:
            raise QueryError(f"unknown format {fmt!r}: expected table, csv or parquet")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
