"""The `xstage score` command (thin: parse, call scoring.score / scoring.external, summarise).

Used by: xstage score --run RUN_ID --stage pretrain|sft [--benchmark ...] [--backend hf|vllm] [--pmi]
and xstage score --model PATH --run-id NAME [--scale S] [--unit U].
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from xstage.console import console, stdout

if TYPE_CHECKING:
    from scoring.score import ScoreSummary


def register(app: typer.Typer) -> None:
    """Add `score` to the root app."""
    app.command("score")(score)


def score(
    run: Annotated[
        str | None, typer.Option("--run", help="A trained run's id (its checkpoint).")
    ] = None,
    stage: Annotated[str, typer.Option(help="pretrain or sft.")] = "pretrain",
    benchmark: Annotated[
        list[str] | None, typer.Option(help="Benchmark id (repeatable); default: all with items.")
    ] = None,
    backend: Annotated[str, typer.Option(help="hf or vllm.")] = "hf",
    limit: Annotated[
        int | None, typer.Option(help="Score the first N items in item_hash order (a sample).")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
    dtype: Annotated[str, typer.Option(help="auto, float32, bfloat16 or float16.")] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Rewrite leaves that exist.")] = False,
    checkpoint: Annotated[str, typer.Option(help="final or step-NNNNNNN (with --run).")] = "final",
    batch_tokens: Annotated[
        int | None, typer.Option(help="HF: padded tokens per forward (halves on OOM).")
    ] = None,
    group_items: Annotated[
        int, typer.Option(help="Items per scoring pass across benchmarks; leaves land per pass.")
    ] = 4096,
    trust_remote_code: Annotated[
        bool, typer.Option(help="Allow model code from the model dir (off: never run it).")
    ] = False,
    pmi: Annotated[
        bool,
        typer.Option(
            "--pmi",
            help="Also score each answer after BOS alone (logprob_uncond) for the pmi "
            "normalization; scores every choice twice.",
        ),
    ] = False,
    model: Annotated[Path | None, typer.Option(help="An outside HF model dir.")] = None,
    run_id: Annotated[str | None, typer.Option(help="Run id to file --model under.")] = None,
    scale: Annotated[
        str | None,
        typer.Option(help="Scale label for --model (default: from its parameter count)."),
    ] = None,
    unit: Annotated[
        str | None, typer.Option(help="Correlation unit for --model (default: run id).")
    ] = None,
) -> None:
    """Write per-choice log-probs of one checkpoint for each benchmark (lake/predictions)."""
    from scoring.backends.base import ModelDirError
    from xstage.lake_writes import LakeBusy

    common = {"benchmarks": benchmark, "backend": backend, "limit": limit, "overwrite": overwrite}
    common |= {"group_items": group_items, "device": device, "dtype": dtype}
    common |= {"trust_remote_code": trust_remote_code, "pmi": pmi}
    if batch_tokens is not None:
        common["batch_tokens"] = batch_tokens
    if (run is None) == (model is None):
        raise typer.BadParameter("give exactly one of --run RUN_ID or --model PATH")
    if model is not None and run_id is None:
        raise typer.BadParameter("--model needs --run-id NAME")
    try:
        if model is not None:
            from scoring.external import score_model

            summary = score_model(model, run_id, scale, unit, stage=stage, **common)
        else:
            from scoring.score import score_run

            summary = score_run(run, stage, checkpoint=checkpoint, **common)
    except (ModelDirError, FileNotFoundError, ValueError, LakeBusy) as exc:
        console.error(exc)
        raise typer.Exit(1) from None
    _print_summary(summary)


def _print_summary(summary: ScoreSummary) -> None:
    for leaf in summary.leaves:
        line = f"{leaf.status:8} {leaf.benchmark:20} {leaf.n_items:6d} items  {leaf.seconds:6.1f}s"
        stdout.print(f"{line}  {leaf.path}", highlight=False, soft_wrap=True)
    stdout.print(
        f"{summary.n_written} leaves written in {summary.seconds:.1f}s ({summary.backend})"
    )
