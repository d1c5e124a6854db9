"""One console, one progress style, one logging setup for every command.

Used by: every `xstage` command (library code logs; only cli.py modules and this one print).
"""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)
stdout = Console()


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Route library logging through rich on stderr at the chosen level."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )


def progress(*extra_columns: object, transient: bool = False) -> Progress:
    """The house progress bar: description, bar, n/total, elapsed, ETA, plus extra columns."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        *extra_columns,
        console=console,
        transient=transient,
        disable=not console.is_terminal and logging.getLogger().level > logging.INFO,
    )
