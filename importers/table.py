"""Read a generic per-item results table (xstage import table PATH).

For results from any harness that has no per-choice log-probs: a CSV or Parquet file with columns
run_id, stage, unit, scale and/or group, benchmark, item_id, is_correct and optionally
confidence, prob_gold, predicted_index, n_choices, category, seed, checkpoint_step. `group` is the
correlation group (models of any size compared together); `scale` alone is the group otherwise.
For a benchmark without a config, `category` (else `uncategorized`) and `n_choices` (chance =
1/n_choices) stand in for the config's. Rows become `item_results` leaves (one per run x stage x
benchmark) and one `runs` row per run x stage (origin 'import', mixture = unit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from importers.batch import ImportBatch, RunKey
from importers.task_map import TaskSpec, resolve_category
from importers.writer import ImportSummary, write_batch
from xstage.ids import (
    SLUG_PATTERN,
    check_group,
    check_name,
    check_run_id,
    check_scale,
    check_slug,
    check_stage,
)
from xstage.run_record import nominal_params

REQUIRED = ("run_id", "stage", "unit", "benchmark", "item_id", "is_correct")
OPTIONAL = (
    "scale",
    "group",
    "confidence",
    "prob_gold",
    "predicted_index",
    "n_choices",
    "category",
    "seed",
    "checkpoint_step",
)
TRUE, FALSE = {"true", "1", "yes", "t"}, {"false", "0", "no", "f"}
INT_RANGE = {
    "predicted_index": (0, 2**15 - 1),
    "n_choices": (2, 2**15 - 1),
    "seed": (0, 2**31 - 1),
    "checkpoint_step": (0, 2**63 - 1),
}


def import_table(path: Path, overwrite: bool = False, dry_run: bool = False) -> ImportSummary:
    """Import one per-item table (every run in it); all or nothing."""
    batch = ImportBatch("table")
    records, first_line = _read(path, batch)
    categories: dict[str, tuple[str, str]] = {}
    defaults: dict[str, str] = {}
    now = datetime.now(UTC)
    for offset, record in enumerate(records):
        where = f"{path}:{offset + first_line}" if first_line else f"{path}: row {offset}"
        try:
            run, benchmark, row = parse_row(record, now)
        except ValueError as exc:
            batch.problem(where, str(exc))
            continue
        if benchmark not in defaults:  # one config read per benchmark, not per row
            defaults[benchmark] = resolve_category(benchmark, TaskSpec())
        row["category"] = row["category"] or defaults[benchmark]
        row["source"] = f"import:table:{path.name}"
        known = categories.setdefault(benchmark, (row["category"], where))
        if known[0] != row["category"]:
            batch.problem(
                where,
                f"benchmark {benchmark!r} has category {row['category']!r} here but "
                f"{known[0]!r} at {known[1]}",
            )
            continue
        if batch.add_run(run, where) and batch.claim(run, benchmark, row["item_id"], where):
            batch.add_rows("item_results", run, benchmark, [row])
    batch.sources.append(str(path.resolve()))
    return write_batch(batch, overwrite=overwrite, dry_run=dry_run)


def _read(path: Path, batch: ImportBatch) -> tuple[list[dict], int]:
    """Rows as dicts, and the file line of the first row (CSV: 2; Parquet: 0 = use row numbers)."""
    try:
        if path.suffix.lower() == ".parquet":
            frame, first_line = pl.read_parquet(path), 0
        elif path.suffix.lower() in (".csv", ".tsv"):
            separator = "\t" if path.suffix.lower() == ".tsv" else ","
            frame, first_line = pl.read_csv(path, infer_schema=False, separator=separator), 2
        else:
            batch.problem(str(path), "expected a .csv, .tsv or .parquet file")
            return [], 0
    except (OSError, pl.exceptions.PolarsError) as exc:
        batch.problem(str(path), f"cannot read: {exc}")
        return [], 0
    missing = [name for name in REQUIRED if name not in frame.columns]
    if "scale" not in frame.columns and "group" not in frame.columns:
        missing.append("scale or group")
    unknown = [name for name in frame.columns if name not in REQUIRED + OPTIONAL]
    if missing or unknown:
        batch.problem(str(path), f"columns: missing {missing}, unexpected {unknown}")
        return [], 0
    return frame.to_dicts(), first_line


def parse_row(record: dict, imported_at: datetime) -> tuple[RunKey, str, dict]:
    """One table row -> (run, benchmark, item_results row); ValueError names the field."""
    scale = _optional_text(record, "scale")
    group = _optional_text(record, "group")
    if scale is None and group is None:
        raise ValueError("scale and group are both empty (give one)")
    run = RunKey(
        run_id=check_run_id(_text(record, "run_id")),
        stage=str(check_stage(_text(record, "stage"))),
        scale=check_group(group) if group else check_scale(scale),
        unit=check_name(_text(record, "unit"), "unit"),
        seed=_integer(record, "seed", default=0),
        checkpoint_step=_integer(record, "checkpoint_step", default=0),
        n_params=nominal_params(check_scale(scale) if scale else None),
    )
    benchmark = check_slug(_text(record, "benchmark"), "benchmark")
    category = record.get("category")
    if category not in (None, "") and not SLUG_PATTERN.match(str(category)):
        raise ValueError(f"category={category!r} is not a slug")
    n_choices = _integer(record, "n_choices", default=None)
    predicted = _integer(record, "predicted_index", default=None)
    if n_choices is not None and predicted is not None and predicted >= n_choices:
        raise ValueError(f"predicted_index={predicted} is outside 0..{n_choices - 1} (n_choices)")
    row = {
        "item_id": _text(record, "item_id"),
        "is_correct": _boolean(record, "is_correct"),
        "confidence": _probability(record, "confidence"),
        "prob_gold": _probability(record, "prob_gold"),
        "predicted_index": predicted,
        "n_choices": n_choices,
        "category": str(category) if category not in (None, "") else "",
        "checkpoint_step": run.checkpoint_step,
        "imported_at": imported_at,
    }
    return run, benchmark, row


def _optional_text(record: dict, name: str) -> str | None:
    value = record.get(name)
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _text(record: dict, name: str) -> str:
    value = record.get(name)
    if value is None or str(value).strip() == "":
        raise ValueError(f"{name} is empty")
    return str(value).strip()


def _boolean(record: dict, name: str) -> bool:
    value = record.get(name)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not a boolean (true/false/1/0)")


def _probability(record: dict, name: str) -> float | None:
    value = record.get(name)
    if value is None or str(value).strip() == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:  # NaN fails this too
        raise ValueError(f"{name}={value!r} is outside [0, 1] (a probability, not a percentage)")
    return number


def _integer(record: dict, name: str, default: int | None) -> int | None:
    value = record.get(name)
    if value is None or str(value).strip() == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer") from None
    low, high = INT_RANGE[name]
    if not low <= number <= high:
        raise ValueError(f"{name}={value!r} is outside {low}..{high}")
    return number
