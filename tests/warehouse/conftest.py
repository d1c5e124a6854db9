"""Warehouse fixtures: a seeded generated lake (warehouse.synthetic) and its built warehouse."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from warehouse.build import BuildResult, build
from warehouse.synthetic import SyntheticLake, write_synthetic_lake

TOLERANCE = 1e-9


@dataclass
class BuiltLake:
    """A generated lake, its configs and the warehouse `xstage build` made from it."""

    lake: SyntheticLake
    result: BuildResult

    @property
    def root(self) -> Path:
        return self.lake.root

    def rows(self, sql: str) -> list[dict]:
        """Rows of a read-only query as dicts."""
        with duckdb.connect(str(self.result.path), read_only=True) as con:
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def build_synthetic(base: Path, n_items: int = 40) -> BuiltLake:
    """Write the generated lake under `base` and build it (configs via XSTAGE_CONFIG_DIR)."""
    lake = write_synthetic_lake(base / "data", base / "configs", n_items=n_items)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XSTAGE_CONFIG_DIR", str(base / "configs"))
        result = build(root=base / "data", unit_tests=True)  # make test runs the unit tests
    return BuiltLake(lake=lake, result=result)


@pytest.fixture(scope="module")
def built_lake(synthetic_warehouse: BuiltLake) -> BuiltLake:
    """The run's shared built lake (models + data tests + unit tests), for reading only;
    test_build.py, which rebuilds and edits its lake, overrides this with a private one."""
    return synthetic_warehouse


def close(a: object, b: object, tolerance: float = TOLERANCE) -> bool:
    """Equal within `tolerance` for numbers (NULL == NULL), exactly otherwise."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str):
        return a == b
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tolerance


def assert_matches(db_rows: list[dict], reference: dict, keys: list[str], columns: dict) -> int:
    """Every DB row equals the reference row of its key and vice versa; returns values compared.

    `columns` maps DB column -> reference field.
    """
    by_key = {tuple(row[k] for k in keys): row for row in db_rows}
    assert len(by_key) == len(db_rows), "duplicate keys in the mart"
    assert set(by_key) == set(reference), (
        f"keys differ: only in db {sorted(set(by_key) - set(reference), key=str)[:3]}, "
        f"only in reference {sorted(set(reference) - set(by_key), key=str)[:3]}"
    )
    compared = 0
    for key, row in by_key.items():
        for column, field in columns.items():
            expected = reference[key][field]
            assert close(row[column], expected), f"{key} {column}: db {row[column]} != {expected}"
            compared += 1
    return compared
