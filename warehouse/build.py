"""Build warehouse.duckdb from the lake with dbt (models + data tests; unit tests on request).

Used by: `xstage build [--select ...] [--full-refresh] [--unit-tests]` and
benchmarks/warehouse_bench.py.
The build writes a new database file beside the old one and renames it into place, so readers
keep working while it runs (DESIGN §10). Incremental marts need the previous tables, so the
current file is copied to the temp path first unless --full-refresh.

Guarantees (callers need no retries or clean-up of their own):
- Lake tables appearing or vanishing: staging views compile a source without files as an empty
  relation, so when the set of source tables with files changes the build is a full refresh.
- Model-definition changes: the warehouse is tied to a hash of dbt_project/ (every model, macro,
  test and config file), the dbt / dbt-duckdb versions and the data dir's path, kept in `<data>/cache/dbt/built.json`
  with the warehouse file's size and mtime. When the hash differs, or the warehouse was not made
  by the last recorded build, the build is a full refresh automatically.
- Unit tests (dbt `unit_tests`, fixed inputs) check model code, not data: `make test` and CI
  run them (tests/warehouse builds with unit_tests=True), `xstage build` only with --unit-tests
  (DESIGN §10). Data tests run on every build that runs dbt. Views are re-created only on a
  full refresh (their definitions are in the hash).
- Resources: DuckDB's memory limit, spill directory and threads, and dbt's threads, come from
  configs/warehouse/default.yaml (warehouse/settings.py; environment variables override).
- Only what the lake changed: the record of the last complete build (no --select, tests run)
  holds a signature per lake table (its files' paths, sizes and mtimes; config exports
  included). An incremental build selects only the tables, incremental marts and tests
  downstream of the source tables whose signature moved; when none moved (and the project hash
  and the warehouse file match) it returns without starting dbt. `force=True` selects them all.
- Connections: dbt-duckdb's in-process database handle is closed after every build, failed or
  not, so the next build in the same process starts clean and the renamed file stands alone.
- One build per data dir at a time (an exclusive lock on `<data>/cache/dbt/build.lock`); the temp
  file has a fixed name, so dbt's partial parse (target/partial_parse.msgpack in the work dir)
  stays valid between builds instead of re-parsing the project each time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.config_exports import export_config_dimensions
from warehouse.dbt_session import close_dbt_connections, environment, seal
from warehouse.settings import OVERRIDES, warehouse_config
from xstage import lake

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
WAREHOUSE_PATH_ENV = "XSTAGE_WAREHOUSE_PATH"

NodeCallback = Callable[[str, str], None]

# An incremental build of an unchanged project: views are not re-created (their SQL, and the data
# dir they read, are part of the project hash, and they read the lake lazily), but every data
# test runs, those on views included. Used when the changed lake tables are not known (the last
# build was partial) or with --force; otherwise downstream_selectors() narrows it.
UNCHANGED_PROJECT_SELECTORS = [
    "config.materialized:table",
    "config.materialized:incremental",
    "resource_type:test",
    "resource_type:unit_test",
]


class BuildError(RuntimeError):
    """dbt reported failing models or tests; the message names each one."""


@dataclass
class BuildResult:
    """What one `xstage build` did."""

    path: Path
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    """Finished nodes per resource type (model, test, unit_test)."""
    up_to_date: bool = False
    """True when nothing changed since the last complete build, so dbt did not run."""


def lake_source_tables() -> list[str]:
    """The lake tables the dbt project declares as sources (`sources: - name: lake`)."""
    import yaml

    names = set()
    for path in sorted((PROJECT_DIR / "models").rglob("*.yml")):
        text = path.read_text()
        if "sources:" not in text:  # most files are model properties: skip their YAML parse
            continue
        for source in (yaml.safe_load(text) or {}).get("sources", []):
            if source.get("name") == "lake":
                names.update(table["name"] for table in source.get("tables", []))
    return sorted(names)


def lake_signatures(data: Path) -> dict[str, str]:
    """Per source table with Parquet files in the lake: sha256 of their paths, sizes, mtimes.

    Lake writers replace whole files (temp + rename), so any new, changed or removed leaf moves
    its table's signature; a stat per file costs milliseconds on the paper-size lake. The keys
    are also the tables staging views compile against: a source without files becomes an
    empty typed relation, and views are re-created only on a full refresh.
    """
    root = lake.lake_dir(data)
    signatures = {}
    for table in lake_source_tables():
        digest, found = hashlib.sha256(), False
        for directory, subdirs, files in os.walk(root / table):
            subdirs.sort()
            for name in sorted(f for f in files if f.endswith(".parquet")):
                stat = Path(directory, name).stat()
                relative = Path(directory, name).relative_to(root)
                digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
                found = True
        if found:
            signatures[table] = digest.hexdigest()
    return signatures


def changed_sources(previous: dict, signatures: dict[str, str]) -> list[str] | None:
    """Source tables whose files changed since the last complete build (None: not known)."""
    before = previous.get("lake_signatures") if previous.get("complete") else None
    if before is None:
        return None
    return sorted(
        name for name in {*before, *signatures} if before.get(name) != signatures.get(name)
    )


def _selectors(
    select: list[str] | None, full_refresh: bool, force: bool, changed: list[str] | None
) -> list[str]:
    """The dbt selectors of one build.

    The caller's, if any; none (everything) on a full refresh; every table, incremental and
    test when forced or when the changed sources are unknown; else what is downstream of them.
    """
    if select:
        return select
    if full_refresh:
        return []
    if force or changed is None:
        return UNCHANGED_PROJECT_SELECTORS
    return downstream_selectors(changed)


def downstream_selectors(tables: list[str]) -> list[str]:
    """Tables, incremental marts and tests downstream of the given lake sources (no views)."""
    kinds = ("config.materialized:table", "config.materialized:incremental", "resource_type:test")
    selectors = [f"source:lake.{table}+,{kind}" for table in tables for kind in kinds]
    return [*selectors, "resource_type:unit_test"]


def dbt_args(
    select: list[str],
    full_refresh: bool,
    work_dir: Path,
    skip_tests: bool = False,
    unit_tests: bool = False,
    dbt_vars: dict[str, object] | None = None,
) -> list[str]:
    """The `dbt build` argument list (quiet: progress comes from the node callback).

    dbt's debug log file is off: its formatting costs CPU on every node. Unit tests (fixed
    inputs: they check model code, not data) run only when asked, as `make test` does.
    `dbt_vars` override dbt_project.yml's `vars:` (e.g. a study's last_checkpoints).
    """
    args = ["build", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]
    args += ["--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")]
    args += ["--quiet", "--no-use-colors", "--log-level-file", "none"]
    if skip_tests:
        args += ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    elif not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    for selector in select:
        args += ["--select", selector]
    if full_refresh:
        args.append("--full-refresh")
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    return args


def _callback(counts: dict[str, int], on_node: NodeCallback | None) -> Callable[[object], None]:
    def handle(event: object) -> None:
        info = getattr(event, "info", None)
        if info is None or info.name != "NodeFinished":
            return
        node = event.data.node_info  # type: ignore[attr-defined]
        kind = node.resource_type
        counts[kind] = counts.get(kind, 0) + 1
        if on_node is not None:
            on_node(node.node_name, node.node_status)

    return handle


def _failures(result: object, tests: bool = True) -> list[str]:
    """`<node>: <message>` for every node that did not pass (data tests only if `tests`)."""
    lines = []
    for node_result in getattr(result, "results", None) or []:
        status = str(node_result.status).lower()
        if not tests and node_result.node.resource_type == "test":
            continue
        if status not in {"success", "pass", "skipped", "warn"}:
            lines.append(f"{node_result.node.name} ({status}): {node_result.message}")
    return lines


def run_dbt(args: list[str], on_node: NodeCallback | None = None) -> dict[str, int]:
    """Invoke dbt in-process; raise BuildError naming failures in words; return node counts."""
    from dbt.cli.main import dbtRunner

    from warehouse.build_failures import explain

    counts: dict[str, int] = {}
    outcome = dbtRunner(callbacks=[_callback(counts, on_node)]).invoke(args)
    if not outcome.success:
        results = getattr(outcome.result, "results", None) or []
        explained = explain(args, results)
        failures = _failures(outcome.result, tests=not explained) + explained
        detail = "\n".join(failures) if failures else str(outcome.exception)
        raise BuildError(f"dbt {args[0]} failed (the previous warehouse is unchanged):\n{detail}")
    return counts


def project_vars() -> dict[str, object]:
    """The dbt vars dbt_project.yml declares, with their defaults."""
    import yaml

    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    return dict(project.get("vars") or {})


def project_hash(data: Path, dbt_vars: dict[str, object] | None = None) -> str:
    """sha256 of dbt_project/ (but target/, logs/), the dbt versions, the data dir's path and vars.

    A different hash means the model definitions may have changed (vars change what they compute).
    """
    from importlib.metadata import version

    digest = hashlib.sha256(f"{version('dbt-core')} {version('dbt-duckdb')} {data}".encode())
    if dbt_vars:
        digest.update(json.dumps(dbt_vars, sort_keys=True).encode())
    for path in sorted(PROJECT_DIR.rglob("*")):
        relative = path.relative_to(PROJECT_DIR)
        if path.is_file() and relative.parts[0] not in {"target", "logs"}:
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _stamp(target: Path) -> list[int]:
    stat = target.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _record(work_dir: Path) -> dict:
    """The last successful build's record (empty when there is none)."""
    try:
        return json.loads((work_dir / "built.json").read_text())
    except (OSError, ValueError):
        return {}


def needs_full_refresh(target: Path, work_dir: Path, current_hash: str) -> str | None:
    """Why an incremental build over `target` is unsafe (None when it is safe)."""
    if not target.exists():
        return f"no warehouse at {target} yet"
    record = _record(work_dir)
    if not record:
        return f"no build record at {work_dir / 'built.json'}"
    if record.get("project_hash") != current_hash:
        return "the dbt project (models, macros, tests or dbt versions) changed"
    if record.get("warehouse") != _stamp(target):
        return f"{target} was not written by the last recorded build"
    return None


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` (blocks while another build of this data dir runs)."""
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(
    select: list[str] | None = None,
    full_refresh: bool = False,
    on_node: NodeCallback | None = None,
    root: Path | None = None,
    skip_tests: bool = False,
    force: bool = False,
    unit_tests: bool = False,
    dbt_vars: dict[str, object] | None = None,
) -> BuildResult:
    """Export config dimensions, run `dbt build` on a copy, rename the copy into place.

    Falls back to a full refresh by itself when the project changed since the warehouse was
    built (see the module docstring); `full_refresh=True` forces one. `force=True` runs dbt even
    when nothing changed since the last complete build; `unit_tests=True` runs dbt's unit tests
    too (and dbt, even when nothing changed). `dbt_vars` override dbt_project.yml's vars; other
    vars than the last build's make it a full refresh (they are in the hash).
    """
    started = time.perf_counter()
    data = lake.data_dir(root)
    target = lake.warehouse_path(data)
    work_dir = lake.dbt_work_dir(data)
    work_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(work_dir / "build.lock"):
        export_config_dimensions(data)  # first: they are lake tables like the others
        current_hash = project_hash(data, dbt_vars)
        previous = _record(work_dir)
        signatures = lake_signatures(data)
        reason = None if full_refresh else needs_full_refresh(target, work_dir, current_hash)
        before = sorted(previous.get("lake_signatures") or {})
        if not (full_refresh or reason) and before != sorted(signatures):
            reason = f"source tables with files changed: {before} -> {sorted(signatures)}"
        if reason is not None:
            log.info("full refresh: %s", reason)
            full_refresh = True
        complete = not (skip_tests or select)
        changed = changed_sources(previous, signatures)
        if complete and not (full_refresh or force or unit_tests) and changed == []:
            seconds = time.perf_counter() - started
            log.info("%s is up to date with the lake (%.2f s)", target, seconds)
            return BuildResult(path=target, seconds=seconds, up_to_date=True)
        selectors = _selectors(select, full_refresh, force, changed)
        args = dbt_args(selectors, full_refresh, work_dir, skip_tests, unit_tests, dbt_vars)
        counts = _build_into(data, args, on_node)
        record = {"project_hash": current_hash, "warehouse": _stamp(target)}
        record["complete"] = complete
        record["lake_signatures"] = signatures
        (work_dir / "built.json").write_text(json.dumps(record))
    seconds = time.perf_counter() - started
    log.info("built %s in %.1f s (%s)", target, seconds, counts)
    return BuildResult(path=target, seconds=seconds, counts=counts)


def _build_into(data: Path, args: list[str], on_node: NodeCallback | None) -> dict[str, int]:
    """Run dbt on `.warehouse.duckdb.building` and rename it into place; return node counts."""
    target = lake.warehouse_path(data)
    building = target.with_name(f".{target.name}.building")
    wal = building.with_name(building.name + ".wal")
    building.unlink(missing_ok=True)
    wal.unlink(missing_ok=True)
    if target.exists() and "--full-refresh" not in args:
        shutil.copyfile(target, building)
    env = {lake.DATA_DIR_ENV: str(data), WAREHOUSE_PATH_ENV: str(building)}
    env[OVERRIDES["dbt_threads"]] = str(warehouse_config().dbt_threads)
    try:
        with environment(env):
            counts = run_dbt(args, on_node)
        seal(building)
        os.replace(building, target)
    finally:
        close_dbt_connections()
        building.unlink(missing_ok=True)
        wal.unlink(missing_ok=True)
    return counts
