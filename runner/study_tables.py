"""Rich tables for the study runner: the plan with cost estimates, outcomes, and the summary.

Used by: xstage run STUDY --dry-run (plan_table), xstage run STUDY (outcome_table,
summary_table). Builds tables only; runner/run_cli.py prints them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from rich.table import Table

from runner.study_plan import STEP_KINDS, Step, StudyPlan


def human_tokens(tokens: float) -> str:
    """`12.0B`, `3.4M`, `950k` or a plain count."""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if tokens >= size:
            return f"{tokens / size:.1f}{unit}"
    return f"{tokens:.0f}"


def human_seconds(seconds: float) -> str:
    """Seconds as `42 s`, `12.5 min` or `2,877 h`."""
    if seconds >= 3600:
        return f"{seconds / 3600:,.0f} h" if seconds >= 36_000 else f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def plan_rows(steps: Iterable[Step], check_done: bool = True) -> list[dict]:
    """Per step kind: steps, pending, estimated tokens and device seconds (pending steps only)."""
    steps = list(steps)
    rows = []
    for kind in STEP_KINDS:
        of_kind = [step for step in steps if step.kind == kind]
        if not of_kind:
            continue
        pending = [step for step in of_kind if not (check_done and step.done())]
        rows.append(
            {
                "kind": kind,
                "steps": len(of_kind),
                "pending": len(pending),
                "tokens": sum(step.tokens for step in pending),
                "seconds": sum(step.seconds for step in pending),
            }
        )
    return rows


def plan_table(plan: StudyPlan, rows: Sequence[dict]) -> Table:
    """The `--dry-run` table: per step kind and in total, on the study's reference device."""
    device = plan.study.estimate.device
    study = plan.study
    table = Table(
        title=f"plan for study {study.id}: {len(study.scales)} scales x {len(study.mixtures)} "
        f"mixtures x {len(study.seeds)} seeds x {len(study.stages)} stages x "
        f"{len(study.benchmarks)} benchmarks",
        caption=f"time: estimated on {device} (assumptions below)",
    )
    for name in ("kind", "study steps", "pending", "tokens", f"time on {device}"):
        table.add_column(name, justify="left" if name == "kind" else "right")
    for row in rows:
        table.add_row(
            row["kind"],
            str(row["steps"]),
            str(row["pending"]),
            human_tokens(row["tokens"]) if row["tokens"] else "-",
            human_seconds(row["seconds"]) if row["seconds"] else "-",
        )
    total_tokens = sum(row["tokens"] for row in rows)
    total_seconds = sum(row["seconds"] for row in rows)
    table.add_row(
        "total",
        str(sum(row["steps"] for row in rows)),
        str(sum(row["pending"] for row in rows)),
        human_tokens(total_tokens),
        human_seconds(total_seconds),
        style="bold",
    )
    return table


def outcome_table(outcomes: Sequence) -> Table:
    """What one `xstage run` did: per step kind, steps run and skipped, and seconds spent."""
    table = Table(title="study steps")
    for name in ("kind", "ran", "skipped", "seconds"):
        table.add_column(name, justify="left" if name == "kind" else "right")
    ran = Counter(outcome.step.kind for outcome in outcomes if outcome.status == "ran")
    skipped = Counter(outcome.step.kind for outcome in outcomes if outcome.status == "skipped")
    for kind in STEP_KINDS:
        if ran[kind] or skipped[kind]:
            seconds = sum(o.seconds for o in outcomes if o.step.kind == kind)
            table.add_row(kind, str(ran[kind]), str(skipped[kind]), f"{seconds:.1f}")
    return table


def summary_table(rows: Sequence[dict], scales: Sequence[str], source: str) -> Table:
    """Per category: mean r_acc and r_conf per scale (rows from marts.fct_category_transfer)."""
    norms = sorted({row.get("length_normalization") or "-" for row in rows})
    caption = f"{source}, length_normalization {', '.join(norms)}"
    table = Table(title="cross-stage transfer (mean Pearson r over benchmarks)", caption=caption)
    table.add_column("category")
    for scale in scales:
        table.add_column(f"r_acc {scale}", justify="right")
        table.add_column(f"r_conf {scale}", justify="right")
    values = {(row["category"], row["scale"], row["metric"]): row["mean_r"] for row in rows}
    categories = sorted({row["category"] for row in rows}, key=lambda c: (c == "all", c))
    for category in categories:
        cells = []
        for scale in scales:
            for metric in ("accuracy", "confidence"):
                value = values.get((category, scale, metric))
                cells.append("-" if value is None else f"{value:+.2f}")
        table.add_row(category, *cells)
    return table


def dry_run_output(plan: StudyPlan, only: str | None, commands: bool, nproc: int) -> list:
    """What `--dry-run` prints: the plan table and cost note, or the pending steps' commands."""
    from runner.steps import command_lines

    selected = plan.select(only)
    if commands:
        pending = [step for step in selected if not step.done()]
        return ["\n".join(command_lines(pending, nproc))]
    return [plan_table(plan, plan_rows(selected)), pretrain_note(plan)]


def pretrain_note(plan: StudyPlan) -> str:
    """One sentence on what pretraining the whole grid costs (all runs, done or not)."""
    steps = plan.select("pretrain")
    device = plan.study.estimate.device
    tokens = sum(step.tokens for step in steps)
    hours = sum(step.seconds for step in steps) / 3600
    total_hours = sum(step.seconds for step in plan.steps) / 3600
    note = (
        f"Pretraining {len(steps)} runs on {human_tokens(tokens)} tokens costs "
        f"{device_time(hours, device)}; the whole study {device_time(total_hours, device)}"
    )
    if total_hours > 24:
        note += ": a cluster job (README: Running the paper study on a GPU cluster)"
    return f"{note}.\nAssumptions: {' '.join(plan.study.estimate.source.split())}."


def device_time(hours: float, device: str) -> str:
    """`about 2,900 H200-hours` (two significant figures) or `about 4.2 minutes on <device>`."""
    if hours >= 10:
        digits = len(str(int(hours))) - 2
        return f"about {round(hours, -digits):,.0f} {device}-hours"
    if hours >= 1:
        return f"about {hours:.1f} {device}-hours"
    return f"about {hours * 60:.1f} minutes on {device}"
