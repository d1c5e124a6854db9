"""Plan and run a whole study: ingest -> tokenizer -> pretrain -> sft -> score -> build -> report.

Used by: xstage run configs/studies/demo.yaml [--dry-run] [--only STEP].

Each typed step (runner.steps) imports its stage library only when it runs, so planning and
`--dry-run` import no stage. Every step's library function is idempotent; the plan also checks
each step's outputs (lake leaves,
checkpoint `final/meta.json`, warehouse and report mtimes), so a rerun after a crash at any
point redoes only what is missing. Each step start and end is appended to a step log.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from runner.steps import Step
from runner.study_plan import StudyPlan
from xstage import lake

log = logging.getLogger(__name__)

# Where the run summary's numbers come from (printed under the table).
SUMMARY_SOURCE = "marts.fct_category_transfer, method pearson"


class StepError(RuntimeError):
    """A study step failed; the message names the step, and a rerun resumes there."""


@dataclass
class StepOutcome:
    """What happened to one step in one `xstage run`."""

    step: Step
    status: str
    """`ran` or `skipped` (already done)."""
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# The step log: one JSON line per step event, so tests and people can see what ran when.


def step_log_path(study_id: str) -> Path:
    """`<data>/studies/<study>/steps.jsonl`."""
    return lake.study_dir(study_id) / "steps.jsonl"


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def append_step_log(
    study_id: str, step: Step, event: str, seconds: float = 0.0, cpu: float = 0.0
) -> None:
    """Append one event (`started`, `done`, `skipped`, `failed`) of one step, fsynced."""
    path = step_log_path(study_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "kind": step.kind,
        "step": step.name,
        "event": event,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "pid": os.getpid(),  # `xstage status` calls a started step running while this lives
    }
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def write_resolved_study(plan: StudyPlan) -> Path:
    """Write the validated study config (every default filled in) beside the step log."""
    path = lake.study_dir(plan.study.id) / "study.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"source": str(plan.path), "study": plan.study.model_dump(mode="json")}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_step_log(study_id: str) -> list[dict]:
    """Every event of the study's step log, oldest first."""
    path = step_log_path(study_id)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# ---------------------------------------------------------------------------------------------
# Running


def run_study(
    plan: StudyPlan,
    only: str | None = None,
    on_step: Callable[[Step, str], None] | None = None,
) -> list[StepOutcome]:
    """Run every pending step of `plan` (or of one kind), in order, with one progress display.

    A step whose outputs exist is skipped; a failing step stops the run (its error names the
    step) and a rerun resumes there. `on_step(step, event)` is told of each start and finish.
    """
    from xstage.console import progress

    steps = plan.select(only)
    write_resolved_study(plan)
    if plan.study.torch_threads:
        import torch

        torch.set_num_threads(plan.study.torch_threads)
    outcomes: list[StepOutcome] = []
    with progress() as bar:
        task = bar.add_task(f"study {plan.study.id}", total=len(steps))
        for step in steps:
            bar.update(task, description=f"{plan.study.id}: {step.name}")
            outcomes.append(_run_step(plan.study.id, step, on_step))
            bar.advance(task)
        bar.update(task, description=f"study {plan.study.id}")
    return outcomes


def _run_step(
    study_id: str, step: Step, on_step: Callable[[Step, str], None] | None
) -> StepOutcome:
    if step.done():
        append_step_log(study_id, step, "skipped")
        return StepOutcome(step, "skipped")
    append_step_log(study_id, step, "started")
    if on_step:
        on_step(step, "started")
    start, cpu_start = time.perf_counter(), cpu_seconds()
    try:
        step.run()
    except Exception as exc:
        append_step_log(study_id, step, "failed", time.perf_counter() - start)
        raise StepError(f"study step '{step.name}' failed: {exc}") from exc
    seconds = time.perf_counter() - start
    if not step.done():
        append_step_log(study_id, step, "failed", seconds)
        raise StepError(f"study step '{step.name}' returned but its outputs are missing")
    append_step_log(study_id, step, "done", seconds, cpu_seconds() - cpu_start)
    if on_step:
        on_step(step, "done")
    log.info("%s: done in %.1f s", step.name, seconds)
    return StepOutcome(step, "ran", seconds)


def category_summary() -> list[dict]:
    """Mean r_acc and r_conf per category and scale, read from marts.fct_category_transfer."""
    from warehouse.report import category_summary as summary

    return summary()


def write_report(study_id: str) -> Path:
    """Write `<data>/reports/<study>/index.html` from the marts; return its path."""
    from warehouse.report import write_report as write

    return write(study=study_id)
