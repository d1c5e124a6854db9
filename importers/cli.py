"""`xstage import lm-eval|lighteval|table`: bring per-item results from other harnesses.

Thin commands: parse options, call one importer, print what was written. Nothing is written when
any input problem is found; every problem is listed with its file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xstage.console import console, stdout

import_app = typer.Typer(
    name="import",
    help="Import per-item results from lm-evaluation-harness, lighteval or a generic table.",
    no_args_is_help=True,
)

RunId = Annotated[
    str,
    typer.Option("--run-id", help="Run id (a model name: letters, digits, - . _); created if new."),
]
GroupOpt = Annotated[
    str | None,
    typer.Option(
        "--group",
        help="Correlation group for models of different sizes (replaces --scale as the key).",
    ),
]
StageOpt = Annotated[str, typer.Option("--stage", help="pretrain (base model) or sft.")]
ScaleOpt = Annotated[
    str | None, typer.Option("--scale", help="Scale, e.g. 14M, 7B; defaults to the run's.")
]
UnitOpt = Annotated[
    str | None,
    typer.Option("--unit", help="Correlation unit (model family); default: the run id."),
]
SeedOpt = Annotated[
    int, typer.Option("--seed", min=0, max=2**31 - 1, help="Seed partition key (0..2^31-1).")
]
StepOpt = Annotated[
    int,
    typer.Option("--checkpoint-step", min=0, max=2**63 - 1, help="Checkpoint step (0..2^63-1)."),
]
TaskMapOpt = Annotated[
    Path | None, typer.Option("--task-map", help="YAML task map added to the default one.")
]
TokenizerOpt = Annotated[
    str | None,
    typer.Option(
        "--tokenizer", help="The model's HF tokenizer (dir or cached id): exact n_tokens."
    ),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an earlier import.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Validate and list files; write none.")]
Paths = Annotated[list[Path], typer.Argument(help="Files or folders to import.")]


def register(app: typer.Typer) -> None:
    """Mount `xstage import ...` on the root app."""
    app.add_typer(import_app, name="import")


def _report(summary: object) -> None:
    verb = "would write" if summary.dry_run else "wrote"
    for run in summary.runs:
        stdout.print(
            f"run {run.run_id} stage {run.stage}: scale={run.scale} unit={run.unit} seed={run.seed}"
        )
    counts = ", ".join(f"{table} {n}" for table, n in sorted(summary.rows.items()))
    stdout.print(f"{verb} {len(summary.files)} files ({counts} rows)")
    if summary.dry_run:
        for path in summary.files:
            stdout.print(f"  {path}", highlight=False)


def _run(call: object) -> None:
    from importers.batch import ImportFailed
    from xstage.lake_writes import LakeBusy

    try:
        _report(call())
    except (ImportFailed, ValueError, LakeBusy) as exc:
        console.error(exc)
        raise typer.Exit(1) from None


@import_app.command("lm-eval")
def lm_eval(
    paths: Paths,
    run_id: RunId,
    stage: StageOpt,
    scale: ScaleOpt = None,
    unit: UnitOpt = None,
    seed: SeedOpt = 0,
    checkpoint_step: StepOpt = 0,
    group: GroupOpt = None,
    task_map: TaskMapOpt = None,
    tokenizer: TokenizerOpt = None,
    overwrite: Overwrite = False,
    dry_run: DryRun = False,
) -> None:
    """Import lm-evaluation-harness --log_samples files (samples_<task>_<time>.jsonl[.gz])."""
    from importers.lm_eval import import_lm_eval
    from importers.writer import resolve_run

    def call() -> object:
        run = resolve_run(run_id, stage, scale, unit, seed, checkpoint_step, group=group)
        return import_lm_eval(paths, run, task_map, overwrite, dry_run, tokenizer)

    _run(call)


@import_app.command("lighteval")
def lighteval(
    paths: Paths,
    run_id: RunId,
    stage: StageOpt,
    scale: ScaleOpt = None,
    unit: UnitOpt = None,
    seed: SeedOpt = 0,
    checkpoint_step: StepOpt = 0,
    group: GroupOpt = None,
    task_map: TaskMapOpt = None,
    tokenizer: TokenizerOpt = None,
    overwrite: Overwrite = False,
    dry_run: DryRun = False,
) -> None:
    """Import lighteval --save-details files (details_<task>_<time>.parquet)."""
    from importers.lighteval import import_lighteval
    from importers.writer import resolve_run

    def call() -> object:
        run = resolve_run(run_id, stage, scale, unit, seed, checkpoint_step, group=group)
        return import_lighteval(paths, run, task_map, overwrite, dry_run, tokenizer)

    _run(call)


@import_app.command("table")
def table(
    path: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet per-item table.")],
    overwrite: Overwrite = False,
    dry_run: DryRun = False,
) -> None:
    """Import a per-item table: run_id, stage, unit, scale, benchmark, item_id, is_correct, ..."""
    from importers.table import import_table

    _run(lambda: import_table(path, overwrite, dry_run))
