"""Check an import against the lake, then write all of its leaves or none (xstage import ...).

Rules: an existing ingested benchmark is never overwritten (imported items must match it by
item_hash, and then adopt its item ids); a run made here (train/sft/score) is never replaced; an
earlier import is replaced only with --overwrite; two runs may not share a lake partition.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from importers.batch import ImportBatch, ImportFailed, RunKey
from xstage import lake, lake_writes, schemas
from xstage.run_record import RunRecord, nominal_params, runs_table

LEAF_TABLES = {
    "predictions": (lake.predictions_path, schemas.PREDICTIONS),
    "imported_metrics": (lake.imported_metrics_path, schemas.IMPORTED_METRICS),
    "item_results": (lake.item_results_path, schemas.ITEM_RESULTS),
}
# A partition holds per-choice predictions or per-item results, never both (double counting).
EXCLUSIVE = {"predictions": "item_results", "item_results": "predictions"}
WRITTEN_TABLES = ["benchmark_items", "runs", *LEAF_TABLES]


@dataclass
class ImportSummary:
    """What an import wrote (or would write, with dry_run)."""

    runs: list[RunKey]
    files: list[Path]
    rows: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    removed: list[Path] = field(default_factory=list)
    """Leaves of the earlier import that --overwrite removed (benchmarks no longer imported)."""


def write_batch(
    batch: ImportBatch, overwrite: bool = False, dry_run: bool = False, root: Path | None = None
) -> ImportSummary:
    """Validate `batch` against the lake and publish every file, or none; raise ImportFailed.

    Holds the writer lock of every table an import touches, so a concurrent import waits and
    then sees this one's runs (and is refused, or replaces it with --overwrite).
    """
    batch.check()
    if not batch.leaves:
        raise ImportFailed(
            [f"{source}: no rows to import" for source in batch.sources or ["input"]]
        )
    with lake_writes.writer_lock(WRITTEN_TABLES, "import", root):
        lake_writes.recover_staging(root)
        problems: list[str] = []
        _check_runs(batch, overwrite, root, problems)
        remaps, planned = _plan_items(batch, root, problems)
        planned += _plan_leaves(batch, remaps, overwrite, root, problems)
        planned = _plan_runs(batch, root) + planned
        if problems:
            raise ImportFailed(problems)
        deletes = _replaced_leaves(batch, {path for path, _ in planned}, root)
        if not dry_run:
            lake_writes.publish([(path, _parquet(table)) for path, table in planned], deletes, root)
    rows: dict[str, int] = {}
    for path, table in planned:
        name = path.relative_to(lake.lake_dir(root)).parts[0]
        rows[name] = rows.get(name, 0) + table.num_rows
    runs = sorted(batch.runs.values(), key=lambda run: (run.run_id, run.stage))
    return ImportSummary(runs, [path for path, _ in planned], rows, dry_run, deletes)


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _replaced_leaves(batch: ImportBatch, keep: set[Path], root: Path | None) -> list[Path]:
    """Every leaf of the earlier imports of this batch's runs that the new import does not write.

    --overwrite replaces a run's import whole: benchmarks it no longer has disappear.
    """
    old = [r for r in _existing_runs(root) if (r["run_id"], r["stage"]) in batch.runs]
    found: list[Path] = []
    for row in old:
        partition = (
            lake.predictions_dir(row["scale"], row["mixture"], row["seed"], row["stage"], "x", root)
            .relative_to(lake.table_dir("predictions", root))
            .parent
        )
        for table in LEAF_TABLES:
            directory = lake.table_dir(table, root) / partition
            found += [p for p in directory.glob("benchmark=*/part-*.parquet") if p not in keep]
    return sorted(set(found))


def _existing_runs(root: Path | None) -> list[dict]:
    directory = lake.table_dir("runs", root)
    rows: list[dict] = []
    for path in sorted(directory.glob("part-*.parquet")):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def _check_runs(batch: ImportBatch, overwrite: bool, root: Path | None, problems: list) -> None:
    existing = _existing_runs(root)
    for run in batch.runs.values():
        mine = [r for r in existing if (r["run_id"], r["stage"]) == (run.run_id, run.stage)]
        origins = sorted({r["origin"] for r in mine})
        where = f"run {run.run_id!r} stage {run.stage!r}"
        if any(origin != "import" for origin in origins):
            problems.append(f"{where}: already in the lake with origin {origins}; never replaced")
        elif mine and not overwrite:
            problems.append(f"{where}: already imported; pass --overwrite to replace it")
    _check_case(batch, existing, problems)
    owners: dict[tuple, str] = {}
    others = [r for r in existing if (r["run_id"], r["stage"]) not in batch.runs]
    candidates = [(r["scale"], r["mixture"], r["seed"], r["stage"], r["run_id"]) for r in others]
    candidates += [(r.scale, r.unit, r.seed, r.stage, r.run_id) for r in batch.runs.values()]
    for *partition, run_id in candidates:
        owner = owners.setdefault(tuple(partition), run_id)
        if owner != run_id:
            scale, unit, seed, stage = partition
            problems.append(
                f"runs {owner!r} and {run_id!r} would share the lake partition scale={scale} "
                f"unit(mixture)={unit} seed={seed} stage={stage}; give one another unit or seed"
            )


def _check_case(batch: ImportBatch, existing: list[dict], problems: list) -> None:
    """Refuse names equal but for case to another name (one directory on macOS/Windows)."""
    from xstage.ids import case_collisions

    runs = list(batch.runs.values())
    for what, names in (
        ("run ids", [r["run_id"] for r in existing] + [r.run_id for r in runs]),
        ("units", [r["mixture"] for r in existing] + [r.unit for r in runs]),
        ("groups/scales", [r["scale"] for r in existing] + [r.scale for r in runs]),
    ):
        for first, second in case_collisions(names):
            problems.append(
                f"{what} {first!r} and {second!r} differ only in case (they would share a lake "
                f"directory on a case-insensitive filesystem); rename one"
            )


def _plan_items(
    batch: ImportBatch, root: Path | None, problems: list
) -> tuple[dict[str, dict[str, str]], list[tuple[Path, pa.Table]]]:
    remaps: dict[str, dict[str, str]] = {}
    planned: list[tuple[Path, pa.Table]] = []
    for benchmark, items in sorted(batch.items.items()):
        path = lake.benchmark_items_path(benchmark, root)
        rows = [items[key] for key in sorted(items)]
        if not path.exists():
            planned.append((path, pa.Table.from_pylist(rows, schema=schemas.BENCHMARK_ITEMS)))
            continue
        existing = pq.read_table(path).to_pylist()
        remap, new_rows = _match_items(batch, benchmark, rows, existing, problems)
        remaps[benchmark] = remap
        if not new_rows:
            continue
        if all(row["source"].startswith("import:") for row in existing):
            merged = existing + new_rows
            planned.append((path, pa.Table.from_pylist(merged, schema=schemas.BENCHMARK_ITEMS)))
            continue
        sources = sorted({row["source"] for row in existing})
        first = batch.item_where[(benchmark, new_rows[0]["item_id"])]
        problems.append(
            f"{first}: benchmark {benchmark!r} in the lake came from {sources}; {len(new_rows)} "
            f"imported item(s) match none of its items by item_hash (e.g. "
            f"{new_rows[0]['item_id']!r}). Map the task to a new benchmark id with --task-map; "
            f"an ingested benchmark is never overwritten"
        )
    return remaps, planned


def _match_items(
    batch: ImportBatch, benchmark: str, rows: list[dict], existing: list[dict], problems: list
) -> tuple[dict[str, str], list[dict]]:
    by_hash: dict[str, dict] = {}
    for row in existing:
        by_hash.setdefault(row["item_hash"], row)
    by_id = {row["item_id"]: row for row in existing}
    remap: dict[str, str] = {}
    taken: dict[str, str] = {}  # lake item id -> the imported item that matched it
    new_rows: list[dict] = []
    for row in rows:
        where = batch.item_where[(benchmark, row["item_id"])]
        same = by_id.get(row["item_id"])
        match = (
            same
            if same and same["item_hash"] == row["item_hash"]
            else by_hash.get(row["item_hash"])
        )
        if match is not None:
            if (match["gold_index"], match["n_choices"]) != (row["gold_index"], row["n_choices"]):
                problems.append(
                    f"{where}: item {row['item_id']!r} matches lake item {match['item_id']!r} of "
                    f"{benchmark!r} by text but has gold {row['gold_index']} of "
                    f"{row['n_choices']} choices there {match['gold_index']} of "
                    f"{match['n_choices']} (choice count or gold disagrees with the item)"
                )
            twin = taken.setdefault(match["item_id"], row["item_id"])
            if twin != row["item_id"]:
                problems.append(
                    f"{where}: items {twin!r} and {row['item_id']!r} both match lake item "
                    f"{match['item_id']!r} of {benchmark!r} by text (duplicate item)"
                )
            remap[row["item_id"]] = match["item_id"]
        elif row["item_id"] in by_id:
            problems.append(
                f"{where}: item {row['item_id']!r} of {benchmark!r} is already in the lake with "
                f"other text or choices (item_hash differs); not overwritten"
            )
        else:
            new_rows.append(row)
    return remap, new_rows


def _plan_leaves(
    batch: ImportBatch,
    remaps: dict[str, dict[str, str]],
    overwrite: bool,
    root: Path | None,
    problems: list,
) -> list[tuple[Path, pa.Table]]:
    planned = []
    for (table, run, benchmark), rows in sorted(
        batch.leaves.items(), key=lambda kv: (kv[0][0], kv[0][1].run_id, kv[0][1].stage, kv[0][2])
    ):
        path_of, schema = LEAF_TABLES[table]
        path = path_of(
            run.scale, run.unit, run.seed, run.stage, benchmark, run.checkpoint_step, root
        )
        remap = remaps.get(benchmark, {})
        rows = [{**row, "item_id": remap.get(row["item_id"], row["item_id"])} for row in rows]
        where = f"run {run.run_id!r} stage {run.stage!r} benchmark {benchmark!r}"
        if path.exists() and not overwrite:
            problems.append(f"{where}: {path} exists; pass --overwrite to replace it")
        other = EXCLUSIVE.get(table)
        if (
            other
            and LEAF_TABLES[other][0](
                run.scale, run.unit, run.seed, run.stage, benchmark, run.checkpoint_step, root
            ).exists()
        ):
            problems.append(f"{where}: the lake already holds {other} for this partition")
        planned.append((path, pa.Table.from_pylist(rows, schema=schema)))
    return planned


def _plan_runs(batch: ImportBatch, root: Path | None) -> list[tuple[Path, pa.Table]]:
    now = datetime.now(UTC)
    config_hash = hashlib.sha256("\n".join(sorted(batch.sources)).encode()).hexdigest()
    planned = []
    for run in batch.runs.values():
        steps = sorted(batch.checkpoints.get((run.run_id, run.stage)) or {run.checkpoint_step})
        records = [
            RunRecord(
                run_id=run.run_id,
                scale=run.scale,
                mixture=run.unit,
                seed=run.seed,
                stage=run.stage,
                origin="import",
                checkpoint_step=step,  # one row per imported checkpoint (DESIGN §4)
                created_at=now,
                n_params_nominal=run.n_params
                if run.n_params is not None
                else nominal_params(run.scale),
                config_hash=config_hash,
            )
            for step in steps
        ]
        planned.append((lake.runs_path(run.run_id, run.stage, root), runs_table(records)))
    return planned


def resolve_run(
    run_id: str,
    stage: str,
    scale: str | None,
    unit: str | None,
    seed: int = 0,
    checkpoint_step: int = 0,
    root: Path | None = None,
    group: str | None = None,
) -> RunKey:
    """The RunKey of an imported run; scale and unit default to the run's other stage in the lake.

    A new run needs --scale or --group. `--group G` puts models of any size into one
    correlation group (the `scale` partition key holds G; --scale, if given, only sets the
    run's nominal parameter count). The unit defaults to the run id (each run its own unit).
    """
    from xstage.ids import check_group, check_name, check_run_id, check_scale, check_stage

    check_run_id(run_id, "--run-id")
    for name, value, high in (
        ("--seed", seed, 2**31 - 1),
        ("--checkpoint-step", checkpoint_step, 2**63 - 1),
    ):
        if not 0 <= value <= high:
            raise ValueError(f"{name}={value} is outside 0..{high}")
    known = [row for row in _existing_runs(root) if row["run_id"] == run_id]
    if scale is not None:
        check_scale(scale, "--scale")
    key = group if group is not None else scale
    if key is None:
        if not known:
            raise ValueError(
                f"--scale or --group is required: run {run_id!r} is not in the lake yet"
            )
        key = known[0]["scale"]
    if unit is None:
        unit = known[0]["mixture"] if known else run_id
    return RunKey(
        run_id=run_id,
        stage=str(check_stage(stage, "--stage")),
        scale=check_group(key, "--group" if group is not None else "--scale"),
        unit=check_name(unit, "--unit"),
        seed=seed,
        checkpoint_step=checkpoint_step,
        n_params=nominal_params(scale) if scale else nominal_params(key),
    )


def import_files(
    source: str,
    pattern: str,
    read_file: Callable[..., None],
    paths: list[Path],
    run: RunKey,
    task_map: Path | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    tokenizer: Path | str | None = None,
) -> ImportSummary:
    """Parse every `pattern` file under `paths` with `read_file` as one run x stage; all or nothing."""
    from importers.batch import expand_files
    from importers.task_map import load_task_map
    from importers.tokens import TokenCounter

    tasks = load_task_map(task_map)
    batch = ImportBatch(source)
    batch.add_run(run, "--run-id")
    now = datetime.now(UTC)
    counter = TokenCounter(tokenizer) if tokenizer else None
    for path in expand_files(paths, batch, pattern):
        read_file(path, batch, run, tasks, now, counter)
    return write_batch(batch, overwrite=overwrite, dry_run=dry_run)
