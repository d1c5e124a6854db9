"""Read lighteval details Parquet files (xstage import lighteval PATH... --run-id ID).

lighteval `--save-details` writes details/<model>/<timestamp>/details_<task>_<timestamp>.parquet,
one row per sample with nested columns: `doc` (query, choices, gold_index, ...), `model_response`
(input, logprobs, argmax_logits_eq_gold, unconditioned_logprobs, ...) and `metric`
(metric name -> value). Task names look like `lighteval|arc:easy|0` (suite|task|shots).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from importers.batch import ImportBatch, RunKey
from importers.samples import Provenance, Sample, add_sample, doc_field, typed_bool
from importers.task_map import TaskSpec, resolve_category, resolve_task
from importers.tokens import TokenCounter
from importers.writer import ImportSummary, import_files

FILE_PATTERN = re.compile(
    r"^details_(?P<task>.+)_(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)\.parquet$"
)
REQUIRED_COLUMNS = ("doc", "model_response", "metric")


def import_lighteval(
    paths: list[Path],
    run: RunKey,
    task_map: Path | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    tokenizer: Path | str | None = None,
) -> ImportSummary:
    """Import details files (or folders of them) as one run x stage; all or nothing."""
    return import_files(
        "lighteval",
        "details_*.parquet",
        read_details_file,
        paths,
        run,
        task_map,
        overwrite,
        dry_run,
        tokenizer,
    )


def read_details_file(
    path: Path,
    batch: ImportBatch,
    run: RunKey,
    tasks: dict[str, TaskSpec],
    now: datetime,
    counter: TokenCounter | None = None,
) -> None:
    """Parse one details file into `batch` (rows and problems)."""
    match = FILE_PATTERN.match(path.name)
    if match is None:
        batch.problem(str(path), "file name is not details_<task>_<timestamp>.parquet")
        return
    task = match.group("task")
    try:
        benchmark, spec = resolve_task(task, tasks)
        table = pq.read_table(path)
    except (ValueError, OSError) as exc:
        batch.problem(str(path), str(exc))
        return
    missing = [name for name in REQUIRED_COLUMNS if name not in table.column_names]
    if missing:
        batch.problem(str(path), f"not a lighteval details file: no column(s) {missing}")
        return
    scored_at = datetime.strptime(match.group("ts").split(".")[0], "%Y-%m-%dT%H-%M-%S")
    prov = Provenance("lighteval", "unknown", scored_at.replace(tzinfo=UTC), now, counter)
    category = resolve_category(benchmark, spec)
    batch.sources.append(str(path.resolve()))
    for row_no, record in enumerate(table.select(list(REQUIRED_COLUMNS)).to_pylist()):
        where = f"{path}: row {row_no}"
        try:
            sample = parse_detail(record, row_no, task, spec)
        except (ValueError, KeyError, TypeError) as exc:
            batch.problem(where, f"malformed detail: {exc}")
            continue
        sample.where, sample.line, sample.file = where, row_no, str(path)
        add_sample(batch, run, sample, benchmark, spec, category, prov)


def parse_detail(record: dict, row_no: int, task: str, spec: TaskSpec) -> Sample:
    """One details row -> Sample; raise ValueError/KeyError naming what is wrong."""
    doc, response = record["doc"] or {}, record["model_response"] or {}
    continuations = _strings(doc.get("choices"), "doc.choices")
    logprobs = [float(value) for value in response.get("logprobs") or []]
    flags = response.get("argmax_logits_eq_gold") or []
    greedy = [typed_bool(flag, "argmax_logits_eq_gold") for flag in flags]
    uncond = response.get("unconditioned_logprobs")
    prompt = response.get("input") if isinstance(response.get("input"), str) else None
    context = prompt or doc.get("query")
    if not isinstance(context, str):
        raise ValueError("neither model_response.input nor doc.query is a string")
    return Sample(
        task=task,
        where="",
        item_id=_item_id(doc, row_no, spec),
        contexts=[context] * len(continuations),
        continuations=continuations,
        logprobs=logprobs,
        is_greedy=greedy,
        gold_index=_gold(doc.get("gold_index")),
        logprobs_uncond=[float(v) for v in uncond] if uncond else None,
        metrics={
            name: float(value)
            for name, value in (record["metric"] or {}).items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        },
    )


def _strings(value: object, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} is not a list of strings")
    return value


def _item_id(doc: dict, row_no: int, spec: TaskSpec) -> str:
    if spec.item_id_field:
        return str(doc_field(doc, spec.item_id_field))
    if doc.get("id") not in (None, ""):
        return str(doc["id"])
    return f"{row_no:06d}"


def _gold(gold: object) -> int:
    if isinstance(gold, list):
        if len(gold) != 1:
            raise ValueError(
                f"gold_index {gold!r}: items with several gold answers are not supported"
            )
        gold = gold[0]
    if not isinstance(gold, int) or isinstance(gold, bool):
        raise ValueError(f"gold_index {gold!r} is not an integer")
    return gold
