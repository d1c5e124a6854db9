"""One progress display for a whole study run: a bar for the study plus a line per running step.

Used by: xstage run STUDY --jobs N (the local executor) and xstage run STUDY --executor slurm
(while it waits for the jobs). On a terminal it is a live rich display (xstage.console's
style); elsewhere (a pipe, a CI log) it prints plain lines: one per step that starts or ends,
and every PLAIN_PROGRESS_SECONDS one line with the study's count and each running step's age.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType

from rich.progress import Progress, TaskID

from runner.steps import Step
from xstage.console import PLAIN_PROGRESS_SECONDS, console, progress


class StudyProgress:
    """The study's n/total and its running steps, live on a terminal, as lines elsewhere."""

    def __init__(self, study_id: str, total: int, completed: int = 0) -> None:
        self.study_id = study_id
        self.total = total
        self.completed = completed
        self.started_at: dict[str, float] = {}
        self.live = console.is_terminal
        self.quiet = logging.getLogger().level > logging.INFO
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._step_tasks: dict[str, TaskID] = {}
        self._last_line = time.monotonic()

    def __enter__(self) -> StudyProgress:
        if self.live:
            self._bar = progress()
            self._bar.start()
            self._task = self._bar.add_task(
                f"study {self.study_id}", total=self.total, completed=self.completed
            )
        return self

    def __exit__(
        self, kind: type | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif not self.quiet:
            self._summary()

    def running(self, step: Step, where: str | None = None) -> None:
        """Show a step as running (again: no-op); `where` is e.g. its Slurm job id."""
        if step.name not in self.started_at:
            self.started_at[step.name] = time.monotonic()
            label = step.name + (f" (job {where})" if where else "")
            if self._bar is not None:
                self._step_tasks[step.name] = self._bar.add_task(f"  {label}", total=None)
        self.tick()

    def finished(self, step: Step, status: str) -> None:
        """Count a step as ended (`done`, `failed`) and drop its running line."""
        self.started_at.pop(step.name, None)
        self.completed += 1
        if self._bar is not None:
            task = self._step_tasks.pop(step.name, None)
            if task is not None:
                self._bar.remove_task(task)
            self._bar.update(self._task, completed=self.completed)
        self.tick()

    def tick(self) -> None:
        """On a non-terminal, print the summary line when the last one is old enough."""
        if self.live or self.quiet:
            return
        if time.monotonic() - self._last_line >= PLAIN_PROGRESS_SECONDS:
            self._summary()

    def _summary(self) -> None:
        now = time.monotonic()
        ages = sorted(self.started_at.items(), key=lambda item: item[1])
        running = ", ".join(f"{name} ({now - since:.0f} s)" for name, since in ages)
        line = f"study {self.study_id}: {self.completed}/{self.total} study steps"
        console.print(line + (f"; running {running}" if running else ""), highlight=False)
        self._last_line = now
