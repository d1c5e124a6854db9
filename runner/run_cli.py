"""`xstage run` (a whole study, resumable) and `xstage report` (its HTML report).

Used by: xstage run configs/studies/demo.yaml [--dry-run] [--only STEP] [--jobs N]; xstage report [STUDY];
`make demo`. Thin: the plan lives in runner.study_plan, the runners in runner.pipeline
(in-process) and runner.executor (worker processes).
"""

from __future__ import annotations

from typing import Annotated

import typer

from xstage.console import console, stdout

STUDY_ARG = typer.Argument(help="Study file (configs/studies/demo.yaml) or id (demo).")


def register(app: typer.Typer) -> None:
    """Add `run` and `report` to the root app."""
    app.command("run")(run)
    app.command("report")(report)


ONLY_HELP = (
    "One kind of study step: ingest, tokenizer, pretrain (or train), sft, score, build, report."
)
COMMANDS_HELP = (
    "With --dry-run: each pending study step as a shell command (torchrun for training)."
)
JOBS_HELP = "Worker processes running ready study steps at once (default: cores; 1 = in-process)."


def run(
    study: Annotated[str, STUDY_ARG],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and costs.")] = False,
    only: Annotated[str | None, typer.Option("--only", help=ONLY_HELP)] = None,
    commands: Annotated[bool, typer.Option("--commands", help=COMMANDS_HELP)] = False,
    nproc: Annotated[int, typer.Option("--nproc", help="GPUs per torchrun in --commands.")] = 8,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help=JOBS_HELP)] = None,
) -> None:
    """Run a study end to end (ingest -> ... -> report), skipping finished study steps."""
    from runner import executor, pipeline, study_tables
    from runner.study_config import load_study
    from runner.study_plan import plan_study

    try:
        config, path = load_study(study)
        plan = plan_study(config, path)
        if dry_run:
            for part in study_tables.dry_run_output(plan, only, commands, nproc):
                stdout.print(part, highlight=False, soft_wrap=commands)
            return
        engine: executor.Executor = executor.LocalExecutor(jobs or executor.default_jobs())
        outcomes = engine.run(plan, only)
    except (pipeline.StepError, ValueError) as exc:
        console.error(exc, label="error:")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.error("interrupted; rerun the same command to resume", label="stopped:")
        raise typer.Exit(130) from None
    stdout.print(study_tables.outcome_table(outcomes))
    if only in (None, "build", "report"):
        rows = pipeline.category_summary()
        stdout.print(study_tables.summary_table(rows, config.scales, pipeline.SUMMARY_SOURCE))


def report(study: Annotated[str, STUDY_ARG] = "demo") -> None:
    """Write <data>/reports/<study>/index.html (figures beside it) from the warehouse marts."""
    from runner import pipeline
    from runner.study_config import load_study

    config, _ = load_study(study)
    stdout.print(f"report: {pipeline.write_report(config.id)}")
