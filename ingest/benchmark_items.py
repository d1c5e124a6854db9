"""Convert one benchmark config's split into `lake/benchmark_items/benchmark=<id>/part-0.parquet`.

Used by: xstage ingest benchmarks [--benchmark ID ...] [--max-rows N] [--overwrite] [--skip-invalid].
context = the config template over the converter's fields (mc: lettered options and 'Answer:');
choices = answer texts; item_hash = xstage.hashing.item_hash (normalised text, as imports).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.benchmarks import get_converter
from ingest.benchmarks.fields import LETTERS, RawItem, RowError
from ingest.rejects import InvalidDataError, Rejects
from ingest.sources import SourceMissingError, iter_records, load_split, source_label
from xstage import hashing, lake, lake_writes
from xstage.config import BenchmarkConfig, ConfigError
from xstage.console import progress
from xstage.schemas import BENCHMARK_ITEMS

log = logging.getLogger(__name__)
ANSWER_CUE = "Answer:"


@dataclass(frozen=True)
class IngestResult:
    """What one ingest did: `written`, `skipped` (leaf existed), `missing` or `failed`."""

    name: str
    status: str
    n_rows: int = 0
    n_rejected: int = 0
    path: Path | None = None
    message: str = ""


def check_item(raw: RawItem) -> None:
    """Reject empty fields and choices, a bad gold index, or inconsistent partial scoring."""
    for name, value in raw.fields.items():
        if not value.strip():
            raise RowError(name, "empty text")
    if len(raw.choices) < 2:
        raise RowError("choices", f"expected at least 2 choices, got {len(raw.choices)}")
    for name, choice in zip(raw.choice_fields, raw.choices, strict=True):
        if not isinstance(choice, str) or not choice.strip():
            raise RowError(name, "empty choice")
    if isinstance(raw.gold, bool) or not isinstance(raw.gold, int):
        raise RowError("label", f"gold index has type {type(raw.gold).__name__}")
    if not 0 <= raw.gold < len(raw.choices):
        raise RowError("label", f"gold index {raw.gold} out of range 0..{len(raw.choices) - 1}")
    if raw.choice_contexts is not None:
        if len(raw.choice_contexts) != len(raw.choices):
            raise RowError("choice_contexts", "one context per choice expected")
        if not (raw.continuation or "").strip():
            raise RowError("continuation", "empty continuation after the blank")


def render_context(config: BenchmarkConfig, raw: RawItem) -> str:
    """Apply the template (str.format); for `mc` list options `A. text` and end with 'Answer:'."""
    values = {**raw.optional, **raw.fields}
    try:
        body = config.template.format(**values)
    except (KeyError, IndexError) as exc:
        raise ConfigError(
            f"configs/benchmarks/{config.id}.yaml: field 'template': unknown placeholder {exc}; "
            f"converter {config.converter!r} provides {sorted(values)}"
        ) from None
    if config.formulation == "mc":
        if len(raw.choices) > len(LETTERS):
            raise RowError("choices", f"{len(raw.choices)} choices exceed the letters A-Z")
        options = "\n".join(f"{LETTERS[k]}. {choice}" for k, choice in enumerate(raw.choices))
        return f"{body}\n{options}\n{ANSWER_CUE}"
    return body


def item_hash(row: dict[str, Any]) -> str:
    """xstage.hashing.item_hash of the rendered context, answer texts and shared continuation."""
    return hashing.item_hash(row["context"], row["choices"], row["continuation"])


def build_row(config: BenchmarkConfig, raw: RawItem, row: int) -> dict[str, Any]:
    """One benchmark_items row; the partial-scoring continuation carries choice_prefix."""
    item = {
        "item_id": raw.item_id if raw.item_id is not None else f"{config.source.split}-{row:06d}",
        "split": config.source.split,
        "context": render_context(config, raw),
        "choices": list(raw.choices),
        "gold_index": raw.gold,
        "category": config.category,
        "n_choices": len(raw.choices),
        "source": source_label(config.source),
        "choice_contexts": raw.choice_contexts,
        "continuation": None
        if raw.continuation is None
        else config.choice_prefix + raw.continuation,
    }
    item["item_hash"] = item_hash(item)
    return item


def convert_rows(
    config: BenchmarkConfig, dataset: Any, limit: int | None
) -> tuple[list[dict[str, Any]], Rejects]:
    """Convert and check every row; duplicates of an item_id are all rejected."""
    converter = get_converter(config.converter)
    rejects = Rejects(config.source)
    items: list[tuple[int, dict[str, Any]]] = []
    for row, record, problem in iter_records(dataset, limit):
        if problem is not None:
            rejects.add(row, *problem)
            continue
        try:
            raw = converter(record)
            check_item(raw)
            items.append((row, build_row(config, raw, row)))
        except RowError as exc:
            rejects.add(row, exc.field, exc.reason)
    rows_by_id: dict[str, list[int]] = defaultdict(list)
    for row, item in items:
        rows_by_id[item["item_id"]].append(row)
    duplicated = {key: rows for key, rows in rows_by_id.items() if len(rows) > 1}
    for key, rows in duplicated.items():
        for row in rows:
            rejects.add(row, "id", f"duplicate item id {key!r} (rows {rows})")
    rejects.rows.sort()
    kept = [item for _, item in items if item["item_id"] not in duplicated]
    return kept, rejects


def ingest_benchmark(
    config: BenchmarkConfig,
    *,
    limit: int | None = None,
    overwrite: bool = False,
    skip_invalid: bool = False,
) -> IngestResult:
    """Write one benchmark's leaf; an existing leaf is kept unless `overwrite`.

    Raises:
        SourceMissingError, HubUnavailableError: from ingest.sources.
        InvalidDataError: invalid rows without `skip_invalid`, or no valid row at all.
    """
    path = lake.benchmark_items_path(config.id)
    with lake_writes.writer_lock(["benchmark_items"], "ingest"):
        existing = _existing_items(path)
        imported = any(row["source"].startswith("import:") for row in existing)
        if path.exists() and not overwrite and not imported:
            n_rows = pq.read_metadata(path).num_rows
            return IngestResult(config.id, "skipped", n_rows, path=path, message="leaf exists")
        dataset = load_split(config.source)
        items, rejects = convert_rows(config, dataset, limit)
        if rejects and not skip_invalid:
            raise rejects.error()
        if not items:
            raise InvalidDataError(f"{source_label(config.source)}: no valid rows to write")
        items = adopt_existing_ids(items, existing, path)
        table = pa.Table.from_pylist(items, schema=BENCHMARK_ITEMS)
        lake.write_parquet(table, path, BENCHMARK_ITEMS)
    rejects.write_sidecar(path, len(items))
    for row, name, reason in rejects.rows:
        log.warning("skipped %s", rejects.describe(row, name, reason))
    return IngestResult(config.id, "written", len(items), len(rejects), path)


def _existing_items(path: Path) -> list[dict[str, Any]]:
    """The leaf's rows (none when there is no leaf yet)."""
    return pq.read_table(path).to_pylist() if path.exists() else []


def adopt_existing_ids(
    items: list[dict[str, Any]], existing: list[dict[str, Any]], path: Path
) -> list[dict[str, Any]]:
    """Ingested items with the item_hash of an item already in the leaf keep that item's id.

    So predictions keep joining their items whichever came first, import or ingest, and
    however often the benchmark is re-ingested with --overwrite (an id an earlier ingest
    adopted from an import stays). Imported items that match nothing are kept; ingested ones
    that match nothing are replaced.
    """
    by_hash: dict[str, dict[str, Any]] = {}
    for row in existing:
        by_hash.setdefault(row["item_hash"], row)
    matched: set[str] = set()
    out = []
    for item in items:
        twin = by_hash.get(item["item_hash"])
        if twin is not None and twin["item_id"] not in matched:
            matched.add(twin["item_id"])
            item = {**item, "item_id": twin["item_id"]}
        out.append(item)
    rest = [
        row
        for row in existing
        if row["item_id"] not in matched and row["source"].startswith("import:")
    ]
    counts = Counter(row["item_id"] for row in out + rest)
    clash = sorted(item_id for item_id, n in counts.items() if n > 1)
    if clash:
        raise InvalidDataError(
            f"{path}: item id {clash[0]!r} (and {len(clash) - 1} more) would name two items with "
            f"other text (an imported id is also an ingested one); map the import to another "
            f"benchmark id (--task-map) and import it again"
        )
    return out + rest


def ingest_benchmarks(
    configs: list[BenchmarkConfig],
    *,
    limit: int | None = None,
    overwrite: bool = False,
    skip_invalid: bool = False,
) -> list[IngestResult]:
    """Ingest each benchmark in turn; a missing source or invalid data is recorded, not raised.

    HubUnavailableError is raised: without a mirror or a hub nothing can succeed, so stop now.
    """
    results = []
    with progress() as bar:
        task = bar.add_task("ingest benchmarks", total=len(configs))
        for config in configs:
            bar.update(task, description=f"ingest {config.id}")
            try:
                result = ingest_benchmark(
                    config, limit=limit, overwrite=overwrite, skip_invalid=skip_invalid
                )
            except SourceMissingError as exc:
                result = IngestResult(config.id, "missing", message=str(exc))
            except (InvalidDataError, lake_writes.LakeBusy) as exc:
                result = IngestResult(config.id, "failed", message=str(exc))
            results.append(result)
            bar.advance(task)
    return results


def exit_code(results: list[IngestResult]) -> int:
    """0 unless some benchmark had invalid data, or nothing requested could be ingested.

    A benchmark missing from the mirror is reported but is not a failure on its own: the
    offline mirror legitimately lacks SciQ, MultiRC and MRPC, and the other 17 still work.
    """
    if any(result.status == "failed" for result in results):
        return 1
    return 0 if any(result.status in {"written", "skipped"} for result in results) else 1
