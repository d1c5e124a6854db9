"""`xstage build` bookkeeping: when an incremental build must become a full refresh."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from warehouse import build as warehouse_build


def _project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "dbt_project"
    shutil.copytree(
        warehouse_build.PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs")
    )
    return copy


def test_project_hash_follows_model_files_not_build_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project_copy(tmp_path)
    monkeypatch.setattr(warehouse_build, "PROJECT_DIR", project)
    data = tmp_path / "data"
    first = warehouse_build.project_hash(data)
    assert warehouse_build.project_hash(data) == first
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    assert warehouse_build.project_hash(data) == first
    assert warehouse_build.project_hash(tmp_path / "elsewhere") != first
    macro = project / "macros" / "item_scores.sql"
    macro.write_text(macro.read_text() + "\n")
    assert warehouse_build.project_hash(data) != first


def test_full_refresh_unless_the_record_matches(tmp_path: Path) -> None:
    target, work = tmp_path / "warehouse.duckdb", tmp_path / "work"
    work.mkdir()
    assert "no warehouse" in warehouse_build.needs_full_refresh(target, work, "h1")
    target.write_bytes(b"built")
    assert "no build record" in warehouse_build.needs_full_refresh(target, work, "h1")
    record = {"project_hash": "h1", "warehouse": warehouse_build._stamp(target)}
    (work / "built.json").write_text(json.dumps(record))
    assert warehouse_build.needs_full_refresh(target, work, "h1") is None
    assert "changed" in warehouse_build.needs_full_refresh(target, work, "h2")
    target.write_bytes(b"a warehouse from somewhere else")
    assert "not written by the last" in warehouse_build.needs_full_refresh(target, work, "h1")


def test_close_dbt_connections_closes_and_forgets_the_handle() -> None:
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    class Environment:
        closed = False

        def close(self) -> None:
            self.closed = True

    environment = Environment()
    DuckDBConnectionManager._ENV = environment
    warehouse_build.close_dbt_connections()
    assert environment.closed
    assert DuckDBConnectionManager._ENV is None
    warehouse_build.close_dbt_connections()  # nothing open: a no-op
