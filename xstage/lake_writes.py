"""Safe lake writes across processes: per-table writer locks, stale temp sweeps, staged publish.

Used by: xstage import (all three), ingest (benchmarks, corpus, chat) and score. Three rules (issue 14):
- one lock per lake table: a writer holds the locks of every table it writes (taken in sorted
  order, so two writers never deadlock) and a second writer waits, then gives up with one line;
- temp files carry their writer's pid (`lake.atomic_path`); a writer that holds a table's lock
  removes the temp files of dead writers under that table before it writes;
- a multi-file import is written whole into `lake/.staging/<id>/`, then a manifest is renamed in
  (the commit point), then files are renamed into place in the manifest's order. A writer that
  finds a staging dir with a manifest finishes its renames (roll forward); one without a
  manifest was never committed and is deleted. So a kill at any point leaves the old state or,
  after the next writer starts, the new one; never a leaf without its run row.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from xstage import lake

LOCK_TIMEOUT_ENV = "XSTAGE_LOCK_TIMEOUT"
KILL_AT_ENV = "XSTAGE_KILL_AT"
"""Test hook: SIGKILL this process at the named publish point (see `fault_point`)."""
MANIFEST = "manifest.json"


class LakeBusy(RuntimeError):
    """Another process holds a lake table's writer lock for longer than we wait."""


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL when $XSTAGE_KILL_AT names `name` (crash tests only)."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _locks_dir(root: Path | None) -> Path:
    return lake.lake_dir(root) / ".locks"


@contextlib.contextmanager
def writer_lock(
    tables: list[str], command: str, root: Path | None = None, timeout: float | None = None
) -> Iterator[None]:
    """Hold the writer lock of every table in `tables`; then sweep their dead writers' temps.

    Waits up to `timeout` seconds ($XSTAGE_LOCK_TIMEOUT, default 600) for a busy lock, then
    raises LakeBusy naming the table and the holder. flock locks die with their process, so a
    killed writer never leaves a lock behind.
    """
    wait = float(os.environ.get(LOCK_TIMEOUT_ENV, "600")) if timeout is None else timeout
    handles = []
    try:
        for table in sorted(set(tables)):
            handles.append(_acquire(table, command, root, wait))
        for table in sorted(set(tables)):
            sweep_stale_temps(lake.table_dir(table, root))
        yield
    finally:
        for handle in reversed(handles):
            handle.close()


def _acquire(table: str, command: str, root: Path | None, wait: float):
    directory = _locks_dir(root)
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / f"{table}.lock", "a+")  # noqa: SIM115 - held until released
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise LakeBusy(
                    f"lake table {table!r} is being written by {holder}; waited {wait:.0f} s. "
                    f"Run again when it has finished (or raise ${LOCK_TIMEOUT_ENV})"
                ) from None
            time.sleep(0.1)
    handle.seek(0)
    handle.truncate()
    handle.write(f"`xstage {command}` (pid {os.getpid()})")
    handle.flush()
    return handle


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temps(directory: Path) -> int:
    """Delete `.<name>.<pid>.<rand>.tmp` files and folders under `directory` whose writer is dead.

    Folders are staging folders (a corpus's parts before they are swapped into place).
    """
    removed = 0
    if not directory.is_dir():
        return 0
    for path in sorted(directory.rglob(".*.tmp")):
        pid = lake.temp_owner(path)
        if pid is None or _pid_alive(pid) or not path.exists():
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed += 1
    return removed


def staging_root(root: Path | None = None) -> Path:
    """`lake/.staging/`: outside every table dir, so no reader's glob sees staged files."""
    return lake.lake_dir(root) / ".staging"


def recover_staging(root: Path | None = None) -> None:
    """Finish committed publishes (manifest present) and delete uncommitted ones (none)."""
    base = staging_root(root)
    if not base.is_dir():
        return
    for stage in sorted(base.iterdir()):
        manifest = stage / MANIFEST
        if manifest.is_file():
            _apply(stage, json.loads(manifest.read_text()), root)
        shutil.rmtree(stage, ignore_errors=True)


def publish(files: list[tuple[Path, bytes]], deletes: list[Path], root: Path | None = None) -> None:
    """Stage `files` (target path, Parquet bytes), commit, delete `deletes`, rename in order.

    `files` are renamed in the order given (callers put runs rows first, then items, then
    leaves); `deletes` (an overwritten import's old leaves) go after the runs rows.
    Call with the writer locks of every table involved held.
    """
    lake_root = lake.lake_dir(root)
    stage = staging_root(root) / f"{os.getpid()}-{time.time_ns()}"
    stage.mkdir(parents=True)
    renames = []
    for n, (target, data) in enumerate(files):
        staged = stage / f"{n:06d}.parquet"
        staged.write_bytes(data)
        renames.append([staged.name, str(target.relative_to(lake_root))])
        if n == 0:
            fault_point("staging")
    body = {"renames": renames, "deletes": [str(p.relative_to(lake_root)) for p in deletes]}
    tmp = stage / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(body))
    for path in stage.glob("*.parquet"):
        _fsync(path)
    os.replace(tmp, stage / MANIFEST)
    fault_point("committed")
    _apply(stage, body, root)
    shutil.rmtree(stage, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _apply(stage: Path, body: dict, root: Path | None) -> None:
    """Do a manifest's renames and deletes; idempotent, so a rerun after a kill finishes it."""
    lake_root = lake.lake_dir(root)
    renames = body["renames"]
    runs_first = [r for r in renames if r[1].startswith("runs/")]
    for name, target in runs_first:
        _move(stage / name, lake_root / target)
    for rel in body["deletes"]:
        (lake_root / rel).unlink(missing_ok=True)
    for n, (name, target) in enumerate(r for r in renames if not r[1].startswith("runs/")):
        _move(stage / name, lake_root / target)
        if n == 0:
            fault_point("publishing")


def _move(staged: Path, target: Path) -> None:
    if staged.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
