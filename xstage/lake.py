"""Every lake path, and the one way to write a lake file: atomically (DESIGN §4).

Used by: every command that reads or writes under $XSTAGE_DATA_DIR.
No other module builds a lake path with an f-string; each leaf has one writer.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from xstage.ids import check_group, check_run_id, check_slug, check_stage, path_key

DATA_DIR_ENV = "XSTAGE_DATA_DIR"


def data_dir(override: Path | str | None = None) -> Path:
    """The absolute runtime data directory: `override`, else $XSTAGE_DATA_DIR, else ./data."""
    raw = override if override is not None else os.environ.get(DATA_DIR_ENV, "data")
    return Path(raw).expanduser().resolve()


def lake_dir(root: Path | None = None) -> Path:
    """`<data>/lake`."""
    return data_dir(root) / "lake"


def table_dir(table: str, root: Path | None = None) -> Path:
    """`<data>/lake/<table>` for one of the tables in `xstage.schemas.TABLES`."""
    check_slug(table, "table")
    return lake_dir(root) / table


def benchmark_items_path(benchmark: str, root: Path | None = None) -> Path:
    """`lake/benchmark_items/benchmark=<b>/part-0.parquet`."""
    check_slug(benchmark, "benchmark")
    return table_dir("benchmark_items", root) / f"benchmark={benchmark}" / "part-0.parquet"


def documents_dir(corpus: str, root: Path | None = None) -> Path:
    """`lake/documents/corpus=<c>/`, holding `part-NNNNN.parquet` files."""
    check_slug(corpus, "corpus")
    return table_dir("documents", root) / f"corpus={corpus}"


def documents_part_path(corpus: str, part: int, root: Path | None = None) -> Path:
    """`lake/documents/corpus=<c>/part-NNNNN.parquet`."""
    return documents_dir(corpus, root) / f"part-{part:05d}.parquet"


def chat_examples_path(dataset: str, root: Path | None = None) -> Path:
    """`lake/chat_examples/dataset=<d>/part-0.parquet`."""
    check_slug(dataset, "dataset")
    return table_dir("chat_examples", root) / f"dataset={dataset}" / "part-0.parquet"


def runs_path(run_id: str, stage: str, root: Path | None = None) -> Path:
    """`lake/runs/part-<run_id>__<stage>.parquet`: one row per checkpoint, one writer."""
    path_key(check_run_id(run_id), "run_id")
    stage = check_stage(stage)
    return table_dir("runs", root) / f"part-{run_id}__{stage}.parquet"


def _run_partition(scale: str, mixture: str, seed: int, stage: str) -> Path:
    check_group(scale)
    path_key(mixture, "mixture")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    return Path(
        f"scale={scale}", f"mixture={mixture}", f"seed={seed}", f"stage={check_stage(stage)}"
    )


def training_metrics_path(
    scale: str, mixture: str, seed: int, stage: str, root: Path | None = None
) -> Path:
    """`lake/training_metrics/scale=/mixture=/seed=/stage=/part-0.parquet`."""
    leaf = _run_partition(scale, mixture, seed, stage)
    return table_dir("training_metrics", root) / leaf / "part-0.parquet"


def predictions_dir(
    scale: str, mixture: str, seed: int, stage: str, benchmark: str, root: Path | None = None
) -> Path:
    """`lake/predictions/scale=/mixture=/seed=/stage=/benchmark=/`."""
    check_slug(benchmark, "benchmark")
    leaf = _run_partition(scale, mixture, seed, stage) / f"benchmark={benchmark}"
    return table_dir("predictions", root) / leaf


def predictions_path(
    scale: str,
    mixture: str,
    seed: int,
    stage: str,
    benchmark: str,
    checkpoint_step: int,
    root: Path | None = None,
) -> Path:
    """`.../benchmark=<b>/part-<checkpoint_step>.parquet`."""
    if not isinstance(checkpoint_step, int) or checkpoint_step < 0:
        raise ValueError(f"checkpoint_step={checkpoint_step!r} must be a non-negative integer")
    directory = predictions_dir(scale, mixture, seed, stage, benchmark, root)
    return directory / f"part-{checkpoint_step}.parquet"


def imported_metrics_path(
    scale: str,
    mixture: str,
    seed: int,
    stage: str,
    benchmark: str,
    checkpoint_step: int,
    root: Path | None = None,
) -> Path:
    """`lake/imported_metrics/scale=/mixture=/seed=/stage=/benchmark=/part-<step>.parquet`."""
    return _run_leaf(
        "imported_metrics", scale, mixture, seed, stage, benchmark, checkpoint_step, root
    )


def item_results_path(
    scale: str,
    mixture: str,
    seed: int,
    stage: str,
    benchmark: str,
    checkpoint_step: int,
    root: Path | None = None,
) -> Path:
    """`lake/item_results/scale=/mixture=/seed=/stage=/benchmark=/part-<step>.parquet`."""
    return _run_leaf("item_results", scale, mixture, seed, stage, benchmark, checkpoint_step, root)


def _run_leaf(
    table: str,
    scale: str,
    mixture: str,
    seed: int,
    stage: str,
    benchmark: str,
    checkpoint_step: int,
    root: Path | None,
) -> Path:
    check_slug(benchmark, "benchmark")
    if not isinstance(checkpoint_step, int) or checkpoint_step < 0:
        raise ValueError(f"checkpoint_step={checkpoint_step!r} must be a non-negative integer")
    leaf = _run_partition(scale, mixture, seed, stage) / f"benchmark={benchmark}"
    return table_dir(table, root) / leaf / f"part-{checkpoint_step}.parquet"


def runs_root(root: Path | None = None) -> Path:
    """`<data>/runs`: checkpoints live under `runs/<run_id>/<stage>/`."""
    return data_dir(root) / "runs"


def run_stage_dir(run_id: str, stage: str, root: Path | None = None) -> Path:
    """`<data>/runs/<run_id>/<stage>/`: checkpoints and resolved config of one stage."""
    check_run_id(run_id)
    return runs_root(root) / run_id / str(check_stage(stage))


def warehouse_path(root: Path | None = None) -> Path:
    """`<data>/warehouse.duckdb`."""
    return data_dir(root) / "warehouse.duckdb"


CONFIG_EXPORTS = ("config_benchmarks", "config_mixtures")


def config_export_path(table: str, root: Path | None = None) -> Path:
    """`lake/<config_benchmarks|config_mixtures>/part-0.parquet`: config dimensions for dbt.

    Written only by `xstage build` (from configs/) so that SQL never parses YAML.
    """
    if table not in CONFIG_EXPORTS:
        raise ValueError(f"table={table!r}: expected one of {CONFIG_EXPORTS}")
    return table_dir(table, root) / "part-0.parquet"


def dbt_work_dir(root: Path | None = None) -> Path:
    """`<data>/cache/dbt`: dbt's target/ and logs/ for builds of this data dir."""
    return cache_dir(root) / "dbt"


def reports_dir(study: str, root: Path | None = None) -> Path:
    """`<data>/reports/<study>/`."""
    check_slug(study, "study")
    return data_dir(root) / "reports" / study


def cache_dir(root: Path | None = None) -> Path:
    """`<data>/cache`: derived artefacts that are safe to delete (converted models, tokenizers)."""
    return data_dir(root) / "cache"


def tokenizer_dir(name: str, root: Path | None = None) -> Path:
    """`<data>/tokenizers/<name>/`: a study's trained tokenizer (copied into every checkpoint)."""
    check_slug(name, "tokenizer")
    return data_dir(root) / "tokenizers" / name


def token_cache_path(tokenizer_hash: str, corpus: str, root: Path | None = None) -> Path:
    """`<data>/cache/tokens/<tokenizer hash>/<corpus>/`: a corpus tokenized once, reused.

    Holds `ids.bin` (raw token ids, memory-mapped by training), `doc_starts.npy` and
    `meta.json` (dtype, counts, the documents' fingerprint).
    """
    check_slug(corpus, "corpus")
    if not tokenizer_hash.isalnum():
        raise ValueError(f"tokenizer_hash={tokenizer_hash!r} must be alphanumeric")
    return cache_dir(root) / "tokens" / tokenizer_hash / corpus


def atomic_path(path: Path) -> tuple[Path, int]:
    """Create the parent of `path` and a temp file beside it; return (temp path, fd).

    The temp is `.<name>.<pid>.<random>.tmp`: the pid lets a later writer tell a dead writer's
    leftovers from a live one's (`xstage.lake_writes.sweep_stale_temps`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.{os.getpid()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    return Path(tmp), fd


def temp_owner(path: Path) -> int | None:
    """The writer pid in an `atomic_path` temp name, or None for other files."""
    match = re.fullmatch(r"\..+\.(\d+)\.[^.]+\.tmp", path.name)
    return int(match.group(1)) if match else None


def write_parquet(table: pa.Table, path: Path, schema: pa.Schema) -> Path:
    """Write `table` to `path` with zstd, via a temp file and a rename, after a schema check.

    Readers never see a half-written file: the rename is atomic on one filesystem.
    """
    if not table.schema.equals(schema):
        table = _conform(table, schema, path)
    tmp, fd = atomic_path(path)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _conform(table: pa.Table, schema: pa.Schema, path: Path) -> pa.Table:
    """Cast `table` to `schema` when only types or order differ; refuse other mismatches."""
    missing = set(schema.names) - set(table.column_names)
    extra = set(table.column_names) - set(schema.names)
    if missing or extra:
        raise ValueError(
            f"{path}: columns do not match the lake schema "
            f"(missing {sorted(missing)}, unexpected {sorted(extra)})"
        )
    return table.select(schema.names).cast(schema)


def read_table(path: Path) -> pa.Table:
    """Read one lake file as written (no partition columns)."""
    return pq.read_table(path)


def study_dir(study: str, root: Path | None = None) -> Path:
    """`<data>/studies/<study>/`: the study runner's step log and resolved study config."""
    check_slug(study, "study")
    return data_dir(root) / "studies" / study


def rejects_path(leaf: Path) -> Path:
    """`_rejected.json` beside a lake leaf: rows an ingest left out under --skip-invalid.

    The leading underscore keeps it out of `**/*.parquet` readers (DuckDB, Spark, dbt sources).
    """
    return leaf.parent / "_rejected.json"
