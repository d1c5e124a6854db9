"""Read lm-evaluation-harness `--log_samples` files (xstage import lm-eval PATH... --run-id ID).

v0.4 sample schema, one JSON object per line: doc_id, doc, target, arguments (one
(context, continuation) request per choice), resps / filtered_resps ([loglikelihood, is_greedy]
per choice, numbers often logged as strings) and per-metric fields (acc, acc_norm, ...).
The task name comes from the file name: samples_<task>_<timestamp>.jsonl[.gz].
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from importers.batch import ImportBatch, RunKey
from importers.samples import (
    Provenance,
    Sample,
    add_sample,
    doc_field,
    spec_item_id,
    typed_bool,
)
from importers.task_map import TaskSpec, resolve_category, resolve_task
from importers.tokens import TokenCounter
from importers.writer import ImportSummary, import_files

FILE_PATTERN = re.compile(
    r"^samples_(?P<task>.+)_(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)\.jsonl(?:\.gz)?$"
)
NOT_METRICS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter"}


def import_lm_eval(
    paths: list[Path],
    run: RunKey,
    task_map: Path | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    tokenizer: Path | str | None = None,
) -> ImportSummary:
    """Import sample files (or folders of them) as one run x stage; all or nothing."""
    return import_files(
        "lm_eval",
        "samples_*.jsonl*",
        read_samples_file,
        paths,
        run,
        task_map,
        overwrite,
        dry_run,
        tokenizer,
    )


def read_samples_file(
    path: Path,
    batch: ImportBatch,
    run: RunKey,
    tasks: dict[str, TaskSpec],
    now: datetime,
    counter: TokenCounter | None = None,
) -> None:
    """Parse one sample file into `batch` (rows and problems)."""
    match = FILE_PATTERN.match(path.name)
    if match is None:
        batch.problem(str(path), "file name is not samples_<task>_<timestamp>.jsonl[.gz]")
        return
    task = match.group("task")
    try:
        benchmark, spec = resolve_task(task, tasks)
    except ValueError as exc:
        batch.problem(str(path), str(exc))
        return
    scored_at = datetime.strptime(match.group("ts").split(".")[0], "%Y-%m-%dT%H-%M-%S")
    prov = Provenance("lm_eval", "unknown", scored_at.replace(tzinfo=UTC), now, counter)
    category = resolve_category(benchmark, spec)
    batch.sources.append(str(path.resolve()))
    for line_no, text in _lines(path, batch):
        where = f"{path}:{line_no}"
        try:
            sample = parse_sample(json.loads(text), task, spec)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            batch.problem(where, f"malformed sample: {exc}")
            continue
        sample.where, sample.line, sample.file = where, line_no, str(path)
        add_sample(batch, run, sample, benchmark, spec, category, prov)


def _lines(path: Path, batch: ImportBatch) -> Iterator[tuple[int, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for line_no, text in enumerate(handle, start=1):
                if text.strip():
                    yield line_no, text
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        batch.problem(str(path), f"cannot read: {exc}")


def parse_sample(record: dict, task: str, spec: TaskSpec) -> Sample:
    """One decoded line -> Sample; raise ValueError/KeyError naming what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("line is not a JSON object")
    doc = record["doc"]
    contexts, continuations = _requests(record["arguments"])
    logprobs, greedy = _responses(record)
    choices = None
    if spec.choices_field:
        choices = doc_field(doc, spec.choices_field)
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise ValueError(f"doc field {spec.choices_field!r} is not a list of strings")
    return Sample(
        task=task,
        where="",
        item_id=spec_item_id(doc, record["doc_id"], spec),
        contexts=contexts,
        continuations=continuations,
        logprobs=logprobs,
        is_greedy=greedy,
        gold_index=_gold(record, doc, spec, choices or [c.strip() for c in continuations]),
        choices=choices,
        metrics=_metrics(record),
    )


def _requests(arguments: object) -> tuple[list[str], list[str]]:
    if isinstance(arguments, dict):  # v0.4.3+: {"gen_args_0": {"arg_0": ctx, "arg_1": cont}}
        keys = sorted(arguments, key=lambda key: int(re.sub(r"\D", "", key) or 0))
        pairs = [(arguments[key]["arg_0"], arguments[key]["arg_1"]) for key in keys]
    elif isinstance(arguments, list):  # earlier v0.4: [[ctx, cont], ...]
        pairs = [(pair[0], pair[1]) for pair in arguments]
    else:
        raise ValueError("`arguments` is neither a mapping nor a list")
    if not all(isinstance(ctx, str) and isinstance(cont, str) for ctx, cont in pairs):
        raise ValueError(
            "`arguments` are not (context, continuation) strings: not a log-likelihood task"
        )
    return [ctx for ctx, _ in pairs], [cont for _, cont in pairs]


def _responses(record: dict) -> tuple[list[float], list[bool]]:
    responses = record.get("filtered_resps")
    if responses is None:
        responses = [resp[0] for resp in record["resps"]]
    logprobs, greedy = [], []
    for response in responses:
        if not isinstance(response, list | tuple) or len(response) != 2:
            raise ValueError(f"response {response!r} is not [loglikelihood, is_greedy]")
        logprobs.append(float(response[0]))
        greedy.append(typed_bool(response[1], "is_greedy"))
    return logprobs, greedy


def _gold(record: dict, doc: dict, spec: TaskSpec, choices: list[str]) -> int:
    if spec.gold_field:
        return int(doc_field(doc, spec.gold_field)) + spec.gold_offset
    target = record["target"]
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, str) and re.fullmatch(r"\d+", target.strip()):
        return int(target)
    if isinstance(target, str) and [c.strip() for c in choices].count(target.strip()) == 1:
        return [c.strip() for c in choices].index(target.strip())
    raise ValueError(
        f"cannot tell the gold index from target {str(target)[:60]!r}; "
        f"set gold_field in the task map"
    )


def _metrics(record: dict) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in record.items()
        if key not in NOT_METRICS and isinstance(value, int | float) and not isinstance(value, bool)
    }
