"""The local executor: run a study's step DAG on a pool of worker processes (`xstage run --jobs N`).

Used by: xstage run STUDY --jobs N (N > 1; `--jobs 1` is pipeline.run_study, in-process).
`Executor` is what `xstage run` calls; `LocalExecutor` is this module's, other executors (Slurm)
implement the same one method.
A step starts as soon as the steps it depends on are done; each worker process (spawned, so
no torch or OpenMP state is forked) uses max(1, cores // N) torch threads unless the study sets
`torch_threads`. Steps that write shared files (build, report) run alone. The main process
alone checks done(), writes the step log and shows the progress: one display for the study
plus a line per running step (runner.study_progress), and one plain line per started and
finished step. A failing step lets the running ones finish, starts nothing more, and raises StepError;
Ctrl-C cancels what is pending and terminates the workers. A rerun resumes from what exists.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

from runner.pipeline import StepError, StepOutcome, append_step_log, run_study, write_resolved_study
from runner.steps import Step
from runner.study_plan import StudyPlan
from runner.study_progress import StudyProgress
from xstage.console import console

# How often the runner wakes while steps run, to refresh the progress display (seconds).
TICK_SECONDS = 1.0


class Executor(Protocol):
    """Runs the pending steps of a study plan; what `xstage run` calls, whatever runs them."""

    def run(self, plan: StudyPlan, only: str | None) -> list[StepOutcome]:
        """Run every pending step of `plan` (or of kind `only`); the outcome of each step handled.

        Steps whose outputs exist are skipped; a failed step raises StepError naming it, and a
        rerun resumes from what exists.
        """
        ...


@dataclass(frozen=True)
class LocalExecutor:
    """This machine: one process (`jobs == 1`, in order) or a pool of `jobs` worker processes."""

    jobs: int

    def run(self, plan: StudyPlan, only: str | None) -> list[StepOutcome]:
        """See `Executor.run`."""
        if self.jobs == 1:
            return run_study(plan, only)
        return run_parallel(plan, only, self.jobs)


def default_jobs() -> int:
    """Worker processes when `--jobs` is not given: the cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


def worker_threads(plan: StudyPlan, jobs: int) -> int:
    """Torch threads per worker: the study's `torch_threads`, else an equal share of the cores."""
    return plan.study.torch_threads or max(1, default_jobs() // jobs)


def _init_worker(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this worker once the runner that started it is gone (SIGKILL leaves no cleanup).

    Otherwise an orphan would go on writing a step's files while the rerun redoes that step.
    """
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _work(step: Step) -> tuple[float, float]:
    """Run one step in a worker; return its wall and CPU seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    step.run()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime - cpu


class _Schedule:
    """Which selected steps are pending, running and finished; what may start now."""

    def __init__(self, steps: list[Step]) -> None:
        self.pending = list(steps)
        self.selected = {step.name for step in steps}
        self.finished: set[str] = set()
        self.running: dict[Future, Step] = {}

    def ready(self) -> list[Step]:
        """Pending steps whose selected deps are finished, honouring exclusive steps."""
        if any(step.exclusive for step in self.running.values()):
            return []
        ready = []
        for step in self.pending:
            if all(dep in self.finished or dep not in self.selected for dep in step.deps):
                if step.exclusive:
                    return [] if self.running or ready else [step]
                ready.append(step)
        return ready


def run_parallel(plan: StudyPlan, only: str | None, jobs: int) -> list[StepOutcome]:
    """Run every pending step of `plan` (or of one kind) on `jobs` worker processes."""
    steps = plan.select(only)
    write_resolved_study(plan)
    context = multiprocessing.get_context("spawn")
    threads = worker_threads(plan, jobs)
    pool = ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_init_worker, initargs=(threads,)
    )
    outcomes: dict[str, StepOutcome] = {}
    try:
        with StudyProgress(plan.study.id, len(steps)) as shown:
            _drive(plan.study.id, _Schedule(steps), pool, jobs, outcomes, shown)
    except KeyboardInterrupt:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    return [outcomes[step.name] for step in steps if step.name in outcomes]


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel pending work and terminate the workers (Ctrl-C)."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public handle on them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


def _drive(study_id, schedule, pool, jobs, outcomes, shown) -> None:
    failure: StepError | None = None
    total = shown.total
    while schedule.pending or schedule.running:
        while failure is None and len(schedule.running) < jobs and (ready := schedule.ready()):
            step = ready[0]
            schedule.pending.remove(step)
            if step.done():
                append_step_log(study_id, step, "skipped")
                outcomes[step.name] = StepOutcome(step, "skipped")
                schedule.finished.add(step.name)
                shown.finished(step, "skipped")
                continue
            append_step_log(study_id, step, "started")
            _line(len(outcomes), total, "started", step.name)
            schedule.running[pool.submit(_work, step)] = step
            shown.running(step)
        if not schedule.running:
            break
        finished, _ = wait(schedule.running, timeout=TICK_SECONDS, return_when=FIRST_COMPLETED)
        shown.tick()
        for future in finished:
            step = schedule.running.pop(future)
            error = _finish(study_id, step, future, outcomes)
            if error is None:
                schedule.finished.add(step.name)
                seconds = outcomes[step.name].seconds
                _line(len(outcomes), total, "done", f"{step.name} ({seconds:.1f} s)")
                shown.finished(step, "done")
            else:
                failure = failure or error
                _line(len(outcomes), total, "failed", step.name)
                shown.finished(step, "failed")
    if failure is not None:
        raise failure


def _finish(study_id: str, step: Step, future: Future, outcomes: dict) -> StepError | None:
    """Log one finished step; return the error if it failed or left its outputs missing."""
    try:
        seconds, cpu = future.result()
    except Exception as exc:
        append_step_log(study_id, step, "failed")
        return StepError(f"study step '{step.name}' failed: {exc}")
    if not step.done():
        append_step_log(study_id, step, "failed", seconds)
        return StepError(f"study step '{step.name}' returned but its outputs are missing")
    append_step_log(study_id, step, "done", seconds, cpu)
    outcomes[step.name] = StepOutcome(step, "ran", seconds)
    return None


def _line(count: int, total: int, event: str, what: str) -> None:
    console.print(f"[{count}/{total}] {event} {what}", markup=False, highlight=False)
