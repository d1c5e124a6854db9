"""Ingest test helpers: tiny hub-shaped Parquet files in a temp mirror, read by the real loader."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def write_mirror_file(
    mirror: Path, dataset: str, config: str | None, split: str, table: pa.Table
) -> Path:
    """Write `table` where the mirror layout puts (dataset, config, split)."""
    path = mirror / dataset.replace("/", "__") / (config or "default") / f"{split}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def invalid_utf8_strings(values: list[bytes]) -> pa.Array:
    """A string column holding raw bytes that are not valid UTF-8 (pyarrow does not check)."""
    binary = pa.array(values, pa.binary())
    return pa.Array.from_buffers(pa.string(), len(values), binary.buffers())


@pytest.fixture
def temp_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty mirror folder that XSTAGE_HF_MIRROR points at for this test."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("XSTAGE_HF_MIRROR", str(mirror))
    return mirror
