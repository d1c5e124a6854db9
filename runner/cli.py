"""The `xstage` command: a typer root that mounts each stage's thin commands.

Used by: `xstage --help` and every subcommand. The stages' cli modules are imported here
directly (they import nothing heavy); heavy imports happen inside commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import importers.cli
import ingest.cli
import scoring.cli
import training.cli
import warehouse.cli
import warehouse.query_cli
from runner import run_cli
from xstage import __version__
from xstage.console import PIPE_WIDTH, setup_logging, stdout

# Help printed to a pipe or file is plain click text at full width (no 80-column wrap, no boxes
# padded to a guessed width), so tools can grep it; a terminal gets rich's panels.
_PLAIN_HELP = not sys.stdout.isatty()
app = typer.Typer(
    name="xstage",
    help="Columnar warehouse for pretraining -> SFT transfer studies: "
    "ingest, train, score, build (dbt + DuckDB), query and report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None if _PLAIN_HELP else "rich",
    context_settings={"max_content_width": PIPE_WIDTH, "terminal_width": PIPE_WIDTH}
    if _PLAIN_HELP
    else {},
)

LS_KINDS = {
    "benchmarks",
    "corpora",
    "mixtures",
    "scales",
    "recipes",
    "studies",
    "runs",
    "queries",
    "chat",
}


@app.callback()
def main(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", envvar="XSTAGE_DATA_DIR", help="Runtime data (lake, runs, warehouse)."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Debug logging.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Warnings and errors only.")] = False,
) -> None:
    """Set up logging and the data directory shared by every command."""
    import os

    setup_logging(verbose, quiet)
    if data_dir is not None:
        os.environ["XSTAGE_DATA_DIR"] = str(data_dir.expanduser().resolve())


@app.command()
def version() -> None:
    """Print the xstage version."""
    stdout.print(__version__)


@app.command()
def validate() -> None:
    """Validate every YAML under configs/; exit 1 naming file and field on the first bad one."""
    from runner.study_config import CONFIG_KINDS
    from xstage.config import config_dir, validate_tree

    results = validate_tree(kinds=CONFIG_KINDS)
    failures = [(path, error) for path, error in results if error]
    for _, error in failures:
        stdout.error(error, label="invalid")
    stdout.print(
        f"{len(results) - len(failures)}/{len(results)} configs valid under {config_dir()}"
    )
    if failures or not results:
        raise typer.Exit(1)


@app.command("ls")
def list_things(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(sorted(LS_KINDS))}.")],
) -> None:
    """List benchmarks, corpora, mixtures, scales, recipes, studies, runs or named queries."""
    from runner.listing import list_table

    if kind not in LS_KINDS:
        raise typer.BadParameter(f"{kind!r}: expected one of {', '.join(sorted(LS_KINDS))}")
    if kind == "queries":
        from warehouse.queries import named_queries

        for query in named_queries().values():
            params = ", ".join(f"{k}={v}" if v else k for k, v in query.params.items())
            stdout.line((query.name, "bold"), f"({params}): {query.description}")
        return
    stdout.print(list_table(kind))


# Each module's `register(app)` adds its commands (ingest, train, sft, score, ...), in this order.
STAGE_CLIS = [
    ingest.cli,
    warehouse.query_cli,
    warehouse.cli,
    run_cli,
    scoring.cli,
    importers.cli,
    training.cli,
]
for _module in STAGE_CLIS:
    _module.register(app)
