"""`xstage query`: read-only SQL and named queries over warehouse.duckdb.

Used by: xstage query "select ..." | xstage query NAME --param k=v [--format csv --out FILE].
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def query(
    text: Annotated[str, typer.Argument(help="A SELECT statement, or the name of a named query.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value for a named query.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or parquet.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="File for csv/parquet output.")] = None,
    limit: Annotated[int, typer.Option(help="Rows shown in table format.")] = 50,
) -> None:
    """Run a read-only query over the warehouse (writes are refused) and print or save it."""
    from warehouse import queries
    from xstage.console import stdout

    try:
        if queries.looks_like_sql(text):
            if param:
                raise queries.QueryError("--param applies to named queries only; use $name in SQL")
            frame = queries.run_sql(text)
        else:
            frame = queries.run_named(text, queries.parse_params(param or []))
        if fmt == "table":
            stdout.print(_rich_table(frame, limit))
        elif out is None and fmt == "csv":
            if queries.nested_columns(frame):
                raise queries.QueryError(
                    f"columns {queries.nested_columns(frame)} are nested (list/struct) and CSV "
                    f"cannot hold them; use --format parquet --out FILE or cast(x as varchar)"
                )
            typer.echo(frame.write_csv(), nl=False)
        elif out is None:
            raise queries.QueryError(f"--format {fmt} needs --out FILE")
        else:
            queries.write_frame(frame, out, fmt)
            stdout.print(f"wrote {frame.height} rows to {out}")
    except queries.QueryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _rich_table(frame, limit: int):
    from rich.table import Table

    table = Table(
        caption=f"{frame.height} rows" + (f" (first {limit})" if frame.height > limit else "")
    )
    for name in frame.columns:
        table.add_column(name)
    for row in frame.head(limit).iter_rows():
        table.add_row(
            *(
                "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
                for value in row
            )
        )
    return table


def register(app: typer.Typer) -> None:
    """Add `xstage query` to the root app."""
    app.command("query")(query)
