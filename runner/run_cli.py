"""`xstage run` (a whole study, resumable) and `xstage report` (its HTML report).

Used by: xstage run configs/studies/demo.yaml [--dry-run] [--only STEP] [--jobs N]; xstage report [STUDY];
`make demo`. Thin: the plan lives in runner.study_plan, the runners in runner.pipeline
(in-process) and runner.executor (worker processes).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from xstage.console import console, stdout


class Executor(StrEnum):
    """Where `xstage run` runs the study's steps."""

    LOCAL = "local"
    SLURM = "slurm"


STUDY_ARG = typer.Argument(help="Study file (configs/studies/demo.yaml) or id (demo).")


def register(app: typer.Typer) -> None:
    """Add `run` and `report` to the root app."""
    app.command("run")(run)
    app.command("status")(status)
    app.command("report")(report)


ONLY_HELP = (
    "One kind of study step: ingest, tokenizer, pretrain (or train), sft, score, build, report."
)
COMMANDS_HELP = (
    "With --dry-run: each pending study step as a shell command (torchrun for training)."
)
JOBS_HELP = "Worker processes running ready study steps at once (default: cores; 1 = in-process)."
EXECUTOR_HELP = "local: worker processes here (--jobs); slurm: one Slurm job per study step."
WAIT_HELP = "With --executor slurm: wait for the jobs, showing progress (--no-wait: submit, exit)."


def run(
    study: Annotated[str, STUDY_ARG],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and costs.")] = False,
    only: Annotated[str | None, typer.Option("--only", help=ONLY_HELP)] = None,
    commands: Annotated[bool, typer.Option("--commands", help=COMMANDS_HELP)] = False,
    nproc: Annotated[int, typer.Option("--nproc", help="GPUs per torchrun in --commands.")] = 8,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help=JOBS_HELP)] = None,
    executor: Annotated[Executor, typer.Option("--executor", help=EXECUTOR_HELP)] = Executor.LOCAL,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help=WAIT_HELP)] = True,
) -> None:
    """Run a study end to end, from ingest to report, skipping finished study steps."""
    from runner import pipeline, slurm_executor, study_tables
    from runner.slurm_jobs import SlurmError
    from runner.study_config import load_study
    from runner.study_plan import plan_study

    try:
        config, path = load_study(study)
        plan = plan_study(config, path)
        if dry_run:
            for part in study_tables.dry_run_output(plan, only, commands, nproc):
                stdout.print(part, highlight=False, soft_wrap=commands)
            if executor == "slurm":
                stdout.print(slurm_executor.jobs_table(plan, only), highlight=False)
            return
        outcomes = _engine(executor, jobs, wait).run(plan, only)
    except (pipeline.StepError, SlurmError, ValueError) as exc:
        console.error(exc, label="error:")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.error("interrupted; rerun the same command to resume", label="stopped:")
        raise typer.Exit(130) from None
    if executor == Executor.SLURM and not wait:
        stdout.print(f"submitted; `xstage status {study}` shows where the jobs stand")
        return
    stdout.print(study_tables.outcome_table(outcomes))
    if only in (None, "build", "report"):
        rows = pipeline.category_summary()
        stdout.print(study_tables.summary_table(rows, config.scales, pipeline.SUMMARY_SOURCE))


def _engine(executor: Executor, jobs: int | None, wait: bool):
    """The runner.executor.Executor that `--executor` (and `--jobs`, `--wait`) name."""
    from runner import executor as engines
    from runner.slurm_executor import SlurmExecutor

    if executor == Executor.SLURM:
        return SlurmExecutor(wait)
    return engines.LocalExecutor(jobs or engines.default_jobs())


def status(study: Annotated[str, STUDY_ARG]) -> None:
    """Print where each study step stands: done, queued, running, failed (with log), pending."""
    from runner import study_status
    from runner.study_config import load_study
    from runner.study_plan import plan_study

    try:
        config, path = load_study(study)
        plan = plan_study(config, path)
        states, note = study_status.step_states(plan)
    except ValueError as exc:
        console.error(exc, label="error:")
        raise typer.Exit(1) from None
    if stdout.is_terminal:
        for name, state in study_status.shared_rows(plan, states):
            stdout.line((name, "bold"), f": {state}")
        stdout.print(study_status.status_table(plan, states))
    else:
        for line in study_status.plain_lines(plan, states):
            stdout.print(line, highlight=False)
    if note:
        console.error(note, label="note:", style="yellow")


def report(study: Annotated[str, STUDY_ARG] = "demo") -> None:
    """Write <data>/reports/<study>/index.html (figures beside it) from the warehouse marts."""
    from runner import pipeline
    from runner.study_config import load_study

    config, _ = load_study(study)
    stdout.print(f"report: {pipeline.write_report(config.id)}")
