"""`xstage train`, `xstage sft`, `xstage tokenizer train`: thin commands over training/.

Used by: xstage train --scale tiny --mixture demo_edu_45_35_20 [--seed 0] [--set train.lr=1e-3]
[--dry-run]; xstage sft --run tiny__demo_edu_45_35_20__seed0 [--chat alpaca_gpt4];
xstage tokenizer train --study demo --vocab-size 4096; and, for DDP/FSDP,
torchrun --nproc_per_node N -m training train ... (same options).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xstage.console import console, stdout

tokenizer_app = typer.Typer(help="Train or inspect the study tokenizer.", no_args_is_help=True)

Sets = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override: model.<field>=V, train.<field>=V or sft.<field>=V."),
]
Overwrite = Annotated[
    bool, typer.Option("--overwrite", help="Delete this stage's checkpoints and retrain.")
]
Recipe = Annotated[
    str | None, typer.Option("--recipe", help="Recipe id (default <study>_<stage>_<scale>).")
]


def register(app: typer.Typer) -> None:
    """Mount train, sft and tokenizer on the root app."""
    app.command("train")(train)
    app.command("sft")(sft)
    app.add_typer(tokenizer_app, name="tokenizer")


def _fail(exc: Exception) -> typer.Exit:
    console.error(exc)
    return typer.Exit(1)


def _print_result(result) -> None:
    import os

    if os.environ.get("RANK", "0") != "0":
        return
    state = "already done" if result.skipped else f"{result.steps} steps"
    loss = "" if result.final_loss is None else f", final loss {result.final_loss:.4f}"
    stdout.print(
        f"{result.stage} {result.run_id}: {state}, {result.tokens_seen:,} tokens{loss}, "
        f"{result.wall_seconds:.1f} s -> {result.checkpoint_dir}",
        highlight=False,
        soft_wrap=True,
    )


def train(
    scale: Annotated[str, typer.Option("--scale", help="Scale id (configs/scales).")],
    mixture: Annotated[str, typer.Option("--mixture", help="Mixture id (configs/mixtures).")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Init and data-order seed.")] = 0,
    recipe: Recipe = None,
    sets: Sets = None,
    tokenizer: Annotated[
        str | None, typer.Option("--tokenizer", help="Tokenizer dir or hub id (default: study's).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; train nothing.")
    ] = False,
    overwrite: Overwrite = False,
) -> None:
    """Pretrain a scale on a mixture; resumes an interrupted run, skips a finished one."""
    from training import pretrain

    try:
        if dry_run:
            _print_plan(pretrain.plan(scale, mixture, recipe, seed, sets or []))
            return
        result = pretrain.run(
            scale,
            mixture,
            recipe,
            seed,
            overrides=sets or [],
            tokenizer=tokenizer,
            overwrite=overwrite,
        )
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    _print_result(result)


def _print_plan(plan) -> None:
    import json

    from training.model import PEAK_BF16_TFLOPS, flops_per_token

    flops = flops_per_token(plan.scale, plan.seq_len) * plan.train_tokens
    stdout.print_json(json.dumps(plan.resolved(), default=str))
    stdout.print(
        f"run {plan.run_id}: {plan.total_steps:,} steps x {plan.tokens_per_step:,} tokens = "
        f"{plan.train_tokens:,} tokens, {plan.scale.n_params:,} parameters "
        f"({plan.scale.n_params_non_embedding:,} non-embedding), {flops:.3g} training FLOPs",
        highlight=False,
    )
    hours = flops / (0.4 * PEAK_BF16_TFLOPS["H200"] * 1e12) / 3600
    stdout.print(f"about {hours:,.3g} H200-hours at 40% MFU (bf16)", highlight=False)
    for leaf in plan.leaves():
        stdout.print(f"  would write {leaf}", highlight=False, soft_wrap=True)


def sft(
    run: Annotated[str, typer.Option("--run", help="Run id with a pretrained checkpoint.")],
    chat: Annotated[
        list[str] | None, typer.Option("--chat", help="Chat dataset id(s) (default: recipe's).")
    ] = None,
    recipe: Recipe = None,
    sets: Sets = None,
    overwrite: Overwrite = False,
) -> None:
    """Fine-tune a pretrained run on chat data (loss on assistant tokens only)."""
    from training import sft as sft_stage

    try:
        result = sft_stage.run(
            run, recipe, datasets=chat, overrides=sets or [], overwrite=overwrite
        )
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    _print_result(result)


@tokenizer_app.command("train")
def tokenizer_train(
    study: Annotated[
        str | None, typer.Option("--study", help="Train on every corpus of the study's mixtures.")
    ] = None,
    corpus: Annotated[
        list[str] | None, typer.Option("--corpus", help="Corpus id(s), instead of --study.")
    ] = None,
    vocab_size: Annotated[int, typer.Option("--vocab-size", min=256)] = 4096,
    max_docs: Annotated[int | None, typer.Option("--max-docs", min=1)] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output dir (default <data>/tokenizers/<study>).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
) -> None:
    """Train a byte-level BPE on the union of a study's corpora (one tokenizer per study)."""
    from training.pretrain import study_corpora
    from training.tokenizer import load_tokenizer, train_study_tokenizer
    from xstage import lake

    if (study is None) == (not corpus):
        raise typer.BadParameter("give exactly one of --study and --corpus")
    if out is None and study is None:
        raise typer.BadParameter("--corpus needs --out")
    try:
        corpora = study_corpora(study) if study else list(corpus or [])
        out = out or lake.tokenizer_dir(study)
        path = train_study_tokenizer(corpora, vocab_size, out, max_docs, overwrite)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    size = len(load_tokenizer(path))
    stdout.print(f"tokenizer ({size:,} tokens) on {', '.join(corpora)} -> {path}", highlight=False)
