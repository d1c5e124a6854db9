"""The typed study steps: one frozen dataclass per step kind, each with its outputs, call and command.

Used by: runner.study_plan (builds a DAG of these), runner.pipeline and runner.executor (run
them), `xstage run --dry-run --commands` (prints them). Each class holds, side by side, the
step's done-check over lake paths, `run()` (the stage library call, imported when it runs) and
`commands()` (the `xstage ...` argv doing the same work through the real CLI), so the two
cannot drift: tests/pipeline/test_steps.py parses every command with the real CLI and checks
that it makes exactly the call `run()` makes. Steps are plain data, so they pickle to workers.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from xstage import lake
from xstage.config import load_config
from xstage.run_record import META_FILE, CheckpointMeta, read_checkpoint_meta

log = logging.getLogger(__name__)


def resolve_device(spec: str) -> str:
    """The study's `device` as the CLI spells it: `auto` becomes cuda when available, else cpu."""
    if spec != "auto":
        return spec
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def checkpoint_meta(rid: str, stage: str) -> CheckpointMeta | None:
    """The typed `final/meta.json` of a run stage, or None while it does not exist."""
    final = lake.run_stage_dir(rid, stage) / "final"
    return read_checkpoint_meta(final) if (final / META_FILE).is_file() else None


def last_checkpoints(rid: str, stage: str, n: int) -> list[str]:
    """`final` and the newest n - 1 finished periodic checkpoints before it, newest first.

    Periodic checkpoints are `step-NNNNNNN` directories with a meta.json; one at final's own
    step is the same weights and is skipped. Resolved when the step runs (they exist only then).
    """
    meta = checkpoint_meta(rid, stage)
    if n <= 1 or meta is None:
        return ["final"]
    stage_dir = lake.run_stage_dir(rid, stage)
    earlier = []
    for path in sorted(stage_dir.glob("step-*"), reverse=True):
        if (path / META_FILE).is_file():
            step = read_checkpoint_meta(path).checkpoint_step
            if step < meta.checkpoint_step:
                earlier.append((step, path.name))
    return ["final"] + [name for _, name in sorted(earlier, reverse=True)[: n - 1]]


def newest_mtime(directory: Path, pattern: str = "*.parquet") -> float:
    """Newest mtime of the files under `directory` matching `pattern` (0 when none)."""
    if not directory.is_dir():
        return 0.0
    return max((path.stat().st_mtime for path in directory.rglob(pattern)), default=0.0)


def limit_groups(limits: Iterable[tuple[str, int | None]]) -> list[tuple[int | None, list[str]]]:
    """Benchmarks grouped by sample size, in first-seen order: one scoring call per group."""
    groups: dict[int | None, list[str]] = {}
    for benchmark, limit in limits:
        groups.setdefault(limit, []).append(benchmark)
    return list(groups.items())


def _torchrun(nproc: int) -> list[str]:
    return ["torchrun", f"--nproc_per_node={nproc}", "-m", "training"]


def _option(flag: str, value: object) -> list[str]:
    return [] if value is None else [flag, str(value)]


@dataclass(frozen=True, kw_only=True)
class Step:
    """What every step has: a name, the names of the steps it needs, and its estimated cost."""

    kind: ClassVar[str]
    """One of study_plan.STEP_KINDS."""
    exclusive: ClassVar[bool] = False
    """True for steps that write shared files (the warehouse, the report): they run alone."""
    deps: tuple[str, ...] = ()
    """Names of the steps whose outputs this one reads."""
    tokens: float = 0.0
    """Estimated tokens processed (training or scoring)."""
    seconds: float = 0.0
    """Estimated device seconds, from the study's `estimate` throughputs."""

    @property
    def name(self) -> str:
        """Unique, human-readable key, e.g. `pretrain tiny__demo_edu_45_35_20__seed0`."""
        raise NotImplementedError

    def done(self) -> bool:
        """True when the step's outputs exist."""
        raise NotImplementedError

    def run(self) -> None:
        """Do the step's work in this process (the stage library call)."""
        raise NotImplementedError

    def commands(self, nproc: int = 8) -> list[list[str]]:
        """The argv(s) doing the same work (torchrun with `nproc` processes for training)."""
        raise NotImplementedError

    def command(self, nproc: int = 8) -> str:
        """`commands()` as one shell line (several joined with `&&`)."""
        return " && ".join(shlex.join(words) for words in self.commands(nproc))


@dataclass(frozen=True, kw_only=True)
class IngestBenchmark(Step):
    """Ingest one benchmark into lake/benchmark_items."""

    kind: ClassVar[str] = "ingest"
    benchmark: str

    @property
    def name(self) -> str:
        return f"ingest benchmark {self.benchmark}"

    def done(self) -> bool:
        return lake.benchmark_items_path(self.benchmark).is_file()

    def run(self) -> None:
        from ingest.benchmark_items import ingest_benchmarks

        config = load_config("benchmarks", self.benchmark)
        results = ingest_benchmarks([config], limit=None, overwrite=False, skip_invalid=False)
        bad = [r for r in results if r.status not in {"written", "skipped"}]
        if bad:
            raise RuntimeError(f"{self.benchmark}: {bad[0].status}: {bad[0].message}")

    def commands(self, nproc: int = 8) -> list[list[str]]:
        return [["xstage", "ingest", "benchmarks", "--benchmark", self.benchmark]]


@dataclass(frozen=True, kw_only=True)
class IngestCorpus(Step):
    """Ingest one corpus (after its filters) into lake/documents."""

    kind: ClassVar[str] = "ingest"
    corpus: str
    max_docs: int | None = None

    @property
    def name(self) -> str:
        return f"ingest corpus {self.corpus}"

    def done(self) -> bool:
        return any(lake.documents_dir(self.corpus).glob("part-*.parquet"))

    def run(self) -> None:
        from ingest.corpora import ingest_corpus

        config = load_config("corpora", self.corpus)
        ingest_corpus(config, max_docs=self.max_docs, overwrite=False, skip_invalid=False)

    def commands(self, nproc: int = 8) -> list[list[str]]:
        limit = _option("--max-docs", self.max_docs)
        return [["xstage", "ingest", "corpus", self.corpus, *limit]]


@dataclass(frozen=True, kw_only=True)
class IngestChat(Step):
    """Ingest one SFT chat dataset into lake/chat_examples."""

    kind: ClassVar[str] = "ingest"
    dataset: str
    max_examples: int | None = None

    @property
    def name(self) -> str:
        return f"ingest chat {self.dataset}"

    def done(self) -> bool:
        return lake.chat_examples_path(self.dataset).is_file()

    def run(self) -> None:
        from ingest.chat import ingest_chat

        config = load_config("chat", self.dataset)
        ingest_chat(config, limit=self.max_examples, overwrite=False, skip_invalid=False)

    def commands(self, nproc: int = 8) -> list[list[str]]:
        limit = _option("--max-examples", self.max_examples)
        return [["xstage", "ingest", "chat", self.dataset, *limit]]


@dataclass(frozen=True, kw_only=True)
class Tokenizer(Step):
    """Train the study's byte-level BPE on the union of its corpora."""

    kind: ClassVar[str] = "tokenizer"
    study: str
    corpora: tuple[str, ...]
    out_dir: Path
    vocab_size: int
    max_docs: int | None = None

    @property
    def name(self) -> str:
        return f"tokenizer {self.study}"

    def done(self) -> bool:
        files = ("tokenizer.json", "tokenizer_config.json")
        return all((self.out_dir / file).is_file() for file in files)

    def run(self) -> None:
        from training.tokenizer import train_study_tokenizer

        corpora = list(self.corpora)
        train_study_tokenizer(corpora, self.vocab_size, self.out_dir, self.max_docs, False)

    def commands(self, nproc: int = 8) -> list[list[str]]:
        corpora = [arg for corpus in self.corpora for arg in ("--corpus", corpus)]
        size = ["--vocab-size", str(self.vocab_size), *_option("--max-docs", self.max_docs)]
        return [["xstage", "tokenizer", "train", *corpora, *size, "--out", str(self.out_dir)]]


@dataclass(frozen=True, kw_only=True)
class Pretrain(Step):
    """Pretrain one (scale, mixture, seed) run."""

    kind: ClassVar[str] = "pretrain"
    run_id: str
    scale: str
    mixture: str
    seed: int
    recipe: str
    tokenizer: str
    sets: tuple[str, ...] = ()
    """Recipe overrides as the CLI's `--set train.<field>=<value>`."""

    @property
    def name(self) -> str:
        return f"pretrain {self.run_id}"

    def done(self) -> bool:
        return checkpoint_meta(self.run_id, "pretrain") is not None

    def run(self) -> None:
        from training import pretrain

        pretrain.run(
            self.scale,
            self.mixture,
            self.recipe,
            self.seed,
            overrides=list(self.sets),
            tokenizer=self.tokenizer,
            overwrite=False,
        )

    def commands(self, nproc: int = 8) -> list[list[str]]:
        ids = ["--scale", self.scale, "--mixture", self.mixture, "--seed", str(self.seed)]
        recipe = ["--recipe", self.recipe, "--tokenizer", self.tokenizer]
        sets = [arg for value in self.sets for arg in ("--set", value)]
        return [[*_torchrun(nproc), "train", *ids, *recipe, *sets]]


@dataclass(frozen=True, kw_only=True)
class Sft(Step):
    """Fine-tune one pretrained run on the study's chat data."""

    kind: ClassVar[str] = "sft"
    run_id: str
    recipe: str
    datasets: tuple[str, ...]
    sets: tuple[str, ...] = ()
    """Recipe overrides as the CLI's `--set sft.<field>=<value>`."""

    @property
    def name(self) -> str:
        return f"sft {self.run_id}"

    def done(self) -> bool:
        return checkpoint_meta(self.run_id, "sft") is not None

    def run(self) -> None:
        from training import sft

        sft.run(
            self.run_id,
            self.recipe,
            datasets=list(self.datasets),
            overrides=list(self.sets),
            overwrite=False,
        )

    def commands(self, nproc: int = 8) -> list[list[str]]:
        chats = [arg for dataset in self.datasets for arg in ("--chat", dataset)]
        sets = [arg for value in self.sets for arg in ("--set", value)]
        recipe = ["--recipe", self.recipe, *sets]
        return [[*_torchrun(nproc), "sft", "--run", self.run_id, *chats, *recipe]]


@dataclass(frozen=True, kw_only=True)
class Score(Step):
    """Score one run stage's final checkpoint on every benchmark of the study."""

    kind: ClassVar[str] = "score"
    run_id: str
    scale: str
    mixture: str
    seed: int
    stage: str
    limits: tuple[tuple[str, int | None], ...]
    """(benchmark, sample size or None for all), in study order."""
    backend: str
    device: str
    """Resolved once at planning (`auto` is already cuda or cpu), as the CLI spells it."""
    dtype: str
    batch_tokens: int | None = None
    pmi: bool = False
    last_checkpoints: int = 1
    """`final` plus the newest n - 1 periodic checkpoints (the study's scoring.last_checkpoints)."""

    @property
    def name(self) -> str:
        return f"score {self.run_id} {self.stage}"

    def done(self) -> bool:
        if checkpoint_meta(self.run_id, self.stage) is None:
            return False
        ids = (self.scale, self.mixture, self.seed, self.stage)
        stage_dir = lake.run_stage_dir(self.run_id, self.stage)
        for name in last_checkpoints(self.run_id, self.stage, self.last_checkpoints):
            step = read_checkpoint_meta(stage_dir / name).checkpoint_step
            if not all(lake.predictions_path(*ids, b, step).is_file() for b, _ in self.limits):
                return False
        return True

    def run(self) -> None:
        for checkpoint in last_checkpoints(self.run_id, self.stage, self.last_checkpoints):
            self._score(checkpoint)

    def _score(self, checkpoint: str) -> None:
        from scoring.score import GROUP_ITEMS, score_run

        extra = {} if self.batch_tokens is None else {"batch_tokens": self.batch_tokens}
        for limit, benchmarks in limit_groups(self.limits):
            score_run(
                self.run_id,
                self.stage,
                checkpoint=checkpoint,
                benchmarks=benchmarks,
                backend=self.backend,
                limit=limit,
                overwrite=False,
                group_items=GROUP_ITEMS,
                device=self.device,
                dtype=self.dtype,
                trust_remote_code=False,
                pmi=self.pmi,
                **extra,
            )

    def commands(self, nproc: int = 8) -> list[list[str]]:
        checkpoints = last_checkpoints(self.run_id, self.stage, self.last_checkpoints)
        return [c for checkpoint in checkpoints for c in self._commands(checkpoint)]

    def _commands(self, checkpoint: str) -> list[list[str]]:
        commands = []
        for limit, benchmarks in limit_groups(self.limits):
            args = ["xstage", "score", "--run", self.run_id, "--stage", self.stage]
            args += [] if checkpoint == "final" else ["--checkpoint", checkpoint]
            args += [arg for benchmark in benchmarks for arg in ("--benchmark", benchmark)]
            args += ["--backend", self.backend, "--device", self.device, "--dtype", self.dtype]
            args += _option("--limit", limit) + _option("--batch-tokens", self.batch_tokens)
            commands.append(args + (["--pmi"] if self.pmi else []))
        return commands


@dataclass(frozen=True, kw_only=True)
class Build(Step):
    """Build warehouse.duckdb from the whole lake (runs alone: it writes one shared file)."""

    kind: ClassVar[str] = "build"
    exclusive: ClassVar[bool] = True
    dbt_vars: tuple[tuple[str, int], ...] = ()
    """dbt vars the study sets (last_checkpoints, decision_bootstrap_resamples), sorted."""

    @property
    def name(self) -> str:
        return "build warehouse"

    def done(self) -> bool:
        warehouse = lake.warehouse_path()
        if not warehouse.is_file():
            return False
        return warehouse.stat().st_mtime >= newest_mtime(lake.lake_dir())

    def run(self) -> None:
        # warehouse.build full-refreshes by itself when the dbt project changed and always
        # closes its dbt-duckdb handle, so the report after it reads a complete file.
        from warehouse.build import build

        def on_node(name: str, status: str) -> None:
            log.debug("dbt build: %s %s", name, status)

        build([], False, on_node, skip_tests=False, force=False, dbt_vars=dict(self.dbt_vars))

    def commands(self, nproc: int = 8) -> list[list[str]]:
        options = [arg for name, value in self.dbt_vars for arg in ("--var", f"{name}={value}")]
        return [["xstage", "build", *options]]


@dataclass(frozen=True, kw_only=True)
class Report(Step):
    """Write the study's HTML report from the marts (runs alone, after the build)."""

    kind: ClassVar[str] = "report"
    exclusive: ClassVar[bool] = True
    study: str
    study_path: Path
    """The study file, so that `xstage report PATH` works for studies outside configs/."""

    @property
    def name(self) -> str:
        return f"report {self.study}"

    def done(self) -> bool:
        index = lake.reports_dir(self.study) / "index.html"
        warehouse = lake.warehouse_path()
        if not index.is_file() or not warehouse.is_file():
            return False
        return index.stat().st_mtime >= warehouse.stat().st_mtime

    def run(self) -> None:
        from warehouse.report import write_report

        write_report(study=self.study)

    def commands(self, nproc: int = 8) -> list[list[str]]:
        return [["xstage", "report", str(self.study_path)]]


def command_lines(steps: Iterable[Step], nproc: int = 8) -> list[str]:
    """`# <kind>` headers, then one shell line per step, in plan order."""
    lines: list[str] = []
    kind = None
    for step in steps:
        if step.kind != kind:
            kind = step.kind
            lines.append(f"# {kind}")
        lines.append(step.command(nproc))
    return lines
