"""Each study step as the shell command that does the same work, for schedulers and clusters.

Used by: xstage run configs/studies/paper.yaml --dry-run --commands (one line per pending step;
pretraining and SFT under torchrun). Every command is idempotent like the step it mirrors, so
a scheduler may run the lines of one kind in parallel and retry any of them.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable

from xstage.study_plan import Step, limit_groups


def _sets(section: str, overrides: dict) -> list[str]:
    args: list[str] = []
    for key, value in sorted(overrides.items()):
        args += ["--set", f"{section}.{key}={value}"]
    return args


def _ingest_benchmark(kw: dict, _: int) -> list[str]:
    return ["xstage", "ingest", "benchmarks", "--benchmark", kw["benchmark"]]


def _ingest_corpus(kw: dict, _: int) -> list[str]:
    limit = ["--max-docs", str(kw["max_docs"])] if kw.get("max_docs") else []
    return ["xstage", "ingest", "corpus", kw["corpus"], *limit]


def _ingest_chat(kw: dict, _: int) -> list[str]:
    limit = ["--max-examples", str(kw["max_examples"])] if kw.get("max_examples") else []
    return ["xstage", "ingest", "chat", kw["dataset"], *limit]


def _tokenizer(kw: dict, _: int) -> list[str]:
    corpora = [arg for corpus in kw["corpora"] for arg in ("--corpus", corpus)]
    limit = ["--max-docs", str(kw["max_docs"])] if kw.get("max_docs") else []
    size = ["--vocab-size", str(kw["vocab_size"])]
    return ["xstage", "tokenizer", "train", *corpora, *size, *limit, "--out", str(kw["out_dir"])]


def _torchrun(nproc: int) -> list[str]:
    return ["torchrun", f"--nproc_per_node={nproc}", "-m", "training"]


def _pretrain(kw: dict, nproc: int) -> list[str]:
    ids = ["--scale", kw["scale"], "--mixture", kw["mixture"], "--seed", str(kw["seed"])]
    recipe = ["--recipe", kw["recipe"], "--tokenizer", str(kw["tokenizer"])]
    return [*_torchrun(nproc), "train", *ids, *recipe, *_sets("train", kw["overrides"])]


def _sft(kw: dict, nproc: int) -> list[str]:
    chats = [arg for dataset in kw["datasets"] for arg in ("--chat", dataset)]
    recipe = ["--recipe", kw["recipe"], *_sets("sft", kw["overrides"])]
    return [*_torchrun(nproc), "sft", "--run", kw["run"], *chats, *recipe]


def _score(kw: dict, _: int) -> list[list[str]]:
    commands = []
    for limit, benchmarks in limit_groups(kw["limits"]):
        args = ["xstage", "score", "--run", kw["run"], "--stage", kw["stage"]]
        args += [arg for benchmark in benchmarks for arg in ("--benchmark", benchmark)]
        args += ["--backend", kw["backend"], "--dtype", kw["dtype"]]
        if kw["device"] != "auto":  # the CLI has no auto: it defaults to cpu
            args += ["--device", kw["device"]]
        if limit:
            args += ["--limit", str(limit)]
        if kw.get("batch_tokens"):
            args += ["--batch-tokens", str(kw["batch_tokens"])]
        commands.append(args)
    return commands


COMMANDS: dict[str, Callable[[dict, int], list]] = {
    "ingest_benchmark": _ingest_benchmark,
    "ingest_corpus": _ingest_corpus,
    "ingest_chat": _ingest_chat,
    "tokenizer": _tokenizer,
    "pretrain": _pretrain,
    "sft": _sft,
    "score": _score,
    "build": lambda kw, _: ["xstage", "build"],
    "report": lambda kw, _: ["xstage", "report", kw["study"]],
}


def step_command(step: Step, nproc: int = 8) -> str:
    """The shell command equivalent to `step` (torchrun with `nproc` processes for training).

    A scoring step with several sample sizes is one command per size, joined with `&&`.
    """
    words = COMMANDS[step.target](step.kwargs, nproc)
    commands = words if words and isinstance(words[0], list) else [words]
    return " && ".join(shlex.join(command) for command in commands)


def command_lines(steps: Iterable[Step], nproc: int = 8) -> list[str]:
    """`# <kind>` headers, then one command per step, in plan order."""
    lines: list[str] = []
    kind = None
    for step in steps:
        if step.kind != kind:
            kind = step.kind
            lines.append(f"# {kind}")
        lines.append(step_command(step, nproc))
    return lines
