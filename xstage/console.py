"""One console, one progress style, one logging setup for every command.

Used by: every `xstage` command (library code logs; only cli.py modules and this one print).
Output that is not a terminal (a pipe, a file, a CI log) is never wrapped or cut: tools grep it.
Strings are never parsed as rich markup, because they carry user data (`[a-z0-9_]`, `[/]`);
colour comes only from explicit styles (`Console.error`, `Console.line`, `rich.text.Text`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rich.console import Console as RichConsole
from rich.console import ConsoleDimensions
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

# Wide enough that no table or line of ours is ever squeezed; only reached by non-terminals.
PIPE_WIDTH = 100_000
# A non-terminal progress display prints one plain line per task at most this often.
PLAIN_PROGRESS_SECONDS = 30.0


class Console(RichConsole):
    """A rich console without markup parsing, that never wraps what goes to a pipe or file."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, soft_wrap=True, **kwargs)

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size; for a pipe or file, a width no line of ours reaches."""
        size = RichConsole.size.fget(self)
        return size if self.is_terminal else ConsoleDimensions(PIPE_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        RichConsole.size.fset(self, new_size)

    def line(self, *parts: str | tuple[str, str]) -> None:
        """Print one line from plain strings and (text, style) pairs, each shown literally."""
        self.print(Text.assemble(*parts), highlight=False)

    def error(self, message: object, label: str = "error", style: str = "red") -> None:
        """Print `label message` with the label styled and the message (user data) literal."""
        self.line((label, style), " ", str(message))


console = Console(stderr=True)
stdout = Console()


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Route library logging to stderr at the chosen level: rich on a terminal, plain otherwise.

    RichHandler lays each record out as a full-width table row, which on a pipe would mean
    padding every line to PIPE_WIDTH; a pipe gets `LEVEL message` lines instead.
    """
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = _PlainHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


class _PlainHandler(logging.Handler):
    """One unstyled, unwrapped line per record, through the stderr console."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            console.print(self.format(record), highlight=False)
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


class PlainProgress(Progress):
    """Progress for non-terminals: plain lines instead of a live bar cut to a guessed width.

    One line per task when it starts, at most every PLAIN_PROGRESS_SECONDS while it moves, and
    its final state when the display stops.
    """

    def __init__(self, *columns: Any, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        self._printed: dict[TaskID, tuple[float, str]] = {}

    def start(self) -> None:
        """No live display: lines are printed as tasks move."""

    def stop(self) -> None:
        """Print each task's last state once."""
        for task_id in list(self._printed):
            self._print_line(task_id)
        self._printed.clear()

    def add_task(self, *args: Any, **kwargs: Any) -> TaskID:
        """Add a task and print its first line."""
        task_id = super().add_task(*args, **kwargs)
        self._print_line(task_id)
        return task_id

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        """Update a task; print a line if the last one is old enough."""
        super().update(task_id, **kwargs)
        self._maybe_print(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        """Advance a task; print a line if the last one is old enough."""
        super().advance(task_id, advance)
        self._maybe_print(task_id)

    def _maybe_print(self, task_id: TaskID) -> None:
        printed_at, _ = self._printed.get(task_id, (0.0, ""))
        if time.monotonic() - printed_at >= PLAIN_PROGRESS_SECONDS:
            self._print_line(task_id)

    def _print_line(self, task_id: TaskID) -> None:
        task = next(task for task in self.tasks if task.id == task_id)
        done = f"{task.completed:g}" + (f"/{task.total:g}" if task.total is not None else "")
        fields = "".join(f"  {key} {value}" for key, value in task.fields.items())
        state = f"{task.description}: {done}{fields}"
        if self._printed.get(task_id, (0.0, ""))[1] == state:
            return  # nothing moved since the last line
        self._printed[task_id] = (time.monotonic(), state)
        if not self.disable:
            self.console.print(f"{state} ({task.elapsed or 0:.0f} s)", highlight=False)


def progress(*extra_columns: object, transient: bool = False) -> Progress:
    """The house progress bar: description, bar, n/total, elapsed, ETA, plus extra columns.

    On a non-terminal it is a PlainProgress (periodic plain lines), silent under `--quiet`.
    """
    if not console.is_terminal:
        quiet = logging.getLogger().level > logging.INFO
        return PlainProgress(console=console, disable=quiet)
    return Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        *extra_columns,
        console=console,
        transient=transient,
    )
