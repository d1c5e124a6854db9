"""Where every step of a study stands: done, queued, running, failed (with its log) or pending.

Used by: xstage status STUDY. A step is `done` when its outputs exist (its `done()`); a step
with a Slurm job is `queued`/`running` while `squeue` lists that job so, and `failed` when the
job ended without the outputs (the log is the job's stderr under slurm/logs/). Without a Slurm
job, the step log of local runs says the rest: `running` while the runner that started the
step is alive, `failed` when it logged a failure (the log is steps.jsonl).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from runner.pipeline import read_step_log, step_log_path
from runner.slurm_jobs import JobRegistry, SlurmError, job_state, log_paths, squeue_jobs
from runner.steps import Step
from runner.study_plan import StudyPlan, runs_of, stages_of
from xstage.ids import run_id

GRID_KINDS = ("train", "score")


@dataclass(frozen=True)
class StepState:
    """One step's state and, where it helps, its job or log."""

    state: str
    """`done`, `queued`, `running`, `failed` or `pending`."""
    detail: str = ""
    """`job 12`, the log path of a failure, or empty."""

    def __str__(self) -> str:
        return f"{self.state} ({self.detail})" if self.detail else self.state


def step_states(plan: StudyPlan) -> tuple[dict[str, StepState], str]:
    """Each step's state by name, and a note when Slurm could not be asked."""
    registry = JobRegistry.load(plan.study.id)
    live, note = {}, ""
    if registry.jobs:
        try:
            live = squeue_jobs(plan.study.id)
        except SlurmError as exc:
            note = f"Slurm states unknown: {exc}"
    last = _last_local_events(plan.study.id)
    states = {}
    for step in plan.steps:
        job_id = registry.latest(step.name)
        states[step.name] = _state(step, job_id, job_state(job_id, live), last.get(step.name), plan)
    return states, note


def _state(step: Step, job_id: str | None, job: str, event: dict | None, plan) -> StepState:
    if job in ("queued", "running"):
        return StepState(job, f"job {job_id}")
    if step.done():
        return StepState("done")
    if job in ("ended", "blocked"):
        return StepState("failed", str(log_paths(plan.study.id, job_id)[1]))
    if event is not None and event["event"] == "failed":
        return StepState("failed", str(step_log_path(plan.study.id)))
    if event is not None and event["event"] == "started" and _alive(event.get("pid")):
        return StepState("running", f"pid {event['pid']}")
    return StepState("pending")


def _last_local_events(study_id: str) -> dict[str, dict]:
    last: dict[str, dict] = {}
    for event in read_step_log(study_id):
        last[event["step"]] = event
    return last


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def grid_rows(plan: StudyPlan, states: dict[str, StepState]) -> list[dict]:
    """One row per scale x mixture x seed x stage: the training and scoring step states."""
    by_key = {}
    for step in plan.steps:
        if step.kind in ("pretrain", "sft", "score"):
            stage = step.kind if step.kind != "score" else step.stage
            kind = "score" if step.kind == "score" else "train"
            by_key[(step.run_id, stage, kind)] = states[step.name]
    rows = []
    for scale, mixture, seed in runs_of(plan.study):
        rid = run_id(scale, mixture, seed)
        for stage in stages_of(plan.study):
            row = {"scale": scale, "mixture": mixture, "seed": seed, "stage": stage}
            row |= {kind: by_key.get((rid, stage, kind), StepState("-")) for kind in GRID_KINDS}
            rows.append(row)
    return rows


def shared_rows(plan: StudyPlan, states: dict[str, StepState]) -> list[tuple[str, str]]:
    """The study-wide steps: ingest and tokenizer as counts, build and report each."""
    rows = []
    for kind in ("ingest", "tokenizer", "build", "report"):
        steps = [step for step in plan.steps if step.kind == kind]
        if not steps:
            continue
        if len(steps) == 1:
            rows.append((steps[0].name, str(states[steps[0].name])))
            continue
        counts: dict[str, int] = {}
        for step in steps:
            counts[states[step.name].state] = counts.get(states[step.name].state, 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        failed = [str(states[s.name]) for s in steps if states[s.name].state == "failed"]
        rows.append((f"{kind} ({len(steps)} study steps)", "; ".join([summary, *failed[:3]])))
    return rows


def plain_lines(plan: StudyPlan, states: dict[str, StepState]) -> list[str]:
    """The status as plain lines (for pipes and logs: grep-able, never wrapped)."""
    lines = [f"{name}: {state}" for name, state in shared_rows(plan, states)]
    for row in grid_rows(plan, states):
        ids = f"{row['scale']} {row['mixture']} seed{row['seed']} {row['stage']}"
        lines.append(f"{ids}: train {row['train']}; score {row['score']}")
    return lines


def status_table(plan: StudyPlan, states: dict[str, StepState]):
    """The status grid as a rich table (terminals)."""
    from rich.table import Table

    table = Table(title=f"study {plan.study.id}", title_justify="left")
    for column in ("scale", "mixture", "seed", "stage", *GRID_KINDS):
        table.add_column(column)
    for row in grid_rows(plan, states):
        cells = [str(row[key]) for key in ("scale", "mixture", "seed", "stage")]
        table.add_row(*cells, *(_styled(row[kind]) for kind in GRID_KINDS))
    return table


def _styled(state: StepState):
    from rich.text import Text

    colour = {"done": "green", "failed": "red", "running": "cyan", "queued": "yellow"}
    return Text(str(state), style=colour.get(state.state, ""))
