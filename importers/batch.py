"""Collect every row of one import, and every problem, before anything is written.

Used by: xstage import lm-eval|lighteval|table. Parsers add rows and problems here; the writer
(importers/writer.py) validates against the lake and writes all leaves, or nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

MAX_PROBLEMS_SHOWN = 50


class ImportFailed(ValueError):
    """The input has problems; one line per distinct problem, with where it occurs. Nothing written.

    Problems are `where: message` strings or (where, message) pairs; pairs whose messages differ
    only in the quoted values are one problem: `N rows: <problem> (first rows: ...)`.
    """

    def __init__(self, problems: list) -> None:
        self.problems = [p if isinstance(p, str) else f"{p[0]}: {p[1]}" for p in problems]
        lines = group_problems(problems)
        shown = lines[:MAX_PROBLEMS_SHOWN]
        more = len(lines) - len(shown)
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"import failed with {len(lines)} problem(s); nothing was written:\n  "
            + "\n  ".join(shown)
            + tail
        )


VALUE = re.compile(r"'[^']*'|\"[^\"]*\"|(?<==)-?\d[\w.+-]*(?=[ ;,:)]|$)")


def group_problems(problems: list, first: int = 3) -> list[str]:
    """One line per distinct problem, in order of first occurrence (values elided as `...`)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for problem in problems:
        if isinstance(problem, str):
            groups.setdefault(problem, []).append(("", problem))
            continue
        where, message = problem
        groups.setdefault(VALUE.sub("...", message), []).append((where, message))
    lines = []
    for key, members in groups.items():
        if len(members) == 1:
            where, message = members[0]
            lines.append(f"{where}: {message}" if where else message)
            continue
        rows = ", ".join(where for where, _ in members[:first])
        lines.append(f"{len(members)} rows: {key} (first rows: {rows}; first: {members[0][1]})")
    return lines


@dataclass(frozen=True)
class RunKey:
    """One imported checkpoint: run_id x stage, and where its leaves live (scale/unit/seed)."""

    run_id: str
    stage: str
    scale: str
    unit: str
    seed: int = 0
    checkpoint_step: int = 0
    n_params: int | None = None
    """Nominal parameter count for the runs row (from --scale); None when not known."""


@dataclass
class ImportBatch:
    """Rows of one import, keyed by lake table and leaf, plus the problems found so far."""

    origin: str
    problems: list[tuple[str, str]] = field(default_factory=list)
    runs: dict[tuple[str, str], RunKey] = field(default_factory=dict)
    checkpoints: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    """The checkpoint steps each run_id x stage of `runs` brings."""
    items: dict[str, dict[str, dict]] = field(default_factory=lambda: defaultdict(dict))
    item_where: dict[tuple[str, str], str] = field(default_factory=dict)
    leaves: dict[tuple[str, RunKey, str], list[dict]] = field(
        default_factory=lambda: defaultdict(list)
    )
    claimed: dict[tuple[RunKey, str, str], str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def problem(self, where: str, message: str) -> None:
        """Record a problem at `where` (`file:line` or `file: row N`)."""
        self.problems.append((where, message))

    def add_run(self, run: RunKey, where: str) -> bool:
        """Register a run checkpoint; the same run_id x stage must keep its scale, unit and seed.

        A run x stage may come with several checkpoint_step values (checkpoint-noise studies):
        each is its own leaf and its own lake/runs row.
        """
        key = (run.run_id, run.stage)
        known = self.runs.get(key)
        if known is None:
            self.runs[key] = run
            self.checkpoints[key].add(run.checkpoint_step)
            return True
        if replace(known, checkpoint_step=run.checkpoint_step) != run:
            self.problem(
                where,
                f"run {run.run_id!r} stage {run.stage!r} has scale={run.scale} unit={run.unit} "
                f"seed={run.seed} here but scale={known.scale} unit={known.unit} "
                f"seed={known.seed} earlier",
            )
            return False
        self.checkpoints[key].add(run.checkpoint_step)
        return True

    def claim(self, run: RunKey, benchmark: str, item_id: str, where: str) -> bool:
        """Reserve (run, benchmark, item); a second claim is a duplicate-row problem."""
        key = (run, benchmark, item_id)
        first = self.claimed.get(key)
        if first is not None:
            self.problem(
                where,
                f"duplicate row for run {run.run_id!r} stage {run.stage!r} benchmark "
                f"{benchmark!r} item {item_id!r} (first seen at {first})",
            )
            return False
        self.claimed[key] = where
        return True

    def add_item(self, benchmark: str, row: dict, where: str) -> None:
        """Keep one benchmark_items row; a differing second version of an item is a problem."""
        known = self.items[benchmark].get(row["item_id"])
        if known is None:
            self.items[benchmark][row["item_id"]] = row
            self.item_where[(benchmark, row["item_id"])] = where
        elif known["item_hash"] != row["item_hash"] or known["gold_index"] != row["gold_index"]:
            first = self.item_where[(benchmark, row["item_id"])]
            self.problem(
                where,
                f"item {row['item_id']!r} of benchmark {benchmark!r} differs from the same item "
                f"at {first} (text, choices or gold index)",
            )

    def add_rows(self, table: str, run: RunKey, benchmark: str, rows: list[dict]) -> None:
        """Append rows to the leaf `table/<run partition>/benchmark=<b>`."""
        self.leaves[(table, run, benchmark)].extend(rows)

    def check(self) -> None:
        """Raise ImportFailed if any problem was recorded."""
        if self.problems:
            raise ImportFailed(self.problems)


def expand_files(paths: list[Path], batch: ImportBatch, pattern: str) -> list[Path]:
    """The files named, with folders expanded to their `pattern` files (problems into `batch`)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.rglob(pattern))
            if not found:
                batch.problem(str(path), f"folder holds no {pattern} files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            batch.problem(str(path), "no such file")
    return files
