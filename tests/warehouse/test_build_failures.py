"""A failed `xstage build` says which relation, rule and keys, in words; the old warehouse stays."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from warehouse import synthetic
from warehouse.build import BuildError, build
from xstage import lake, schemas

pytestmark = [pytest.mark.dbt, pytest.mark.slow]


def _lake(tmp_path: Path) -> synthetic.SyntheticLake:
    written = synthetic.write_synthetic_lake(tmp_path / "data", tmp_path / "configs", n_items=6)
    lake.warehouse_path(written.root).write_bytes(b"previous warehouse")
    return written


def _xstage_build(root: Path, configs: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XSTAGE_CONFIG_DIR": str(configs), "XSTAGE_DATA_DIR": str(root)}
    xstage = Path(sys.executable).with_name("xstage")
    return subprocess.run(
        [str(xstage), "build"], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_a_failed_row_check_names_relation_rule_and_keys(tmp_path: Path) -> None:
    root = _lake(tmp_path).root
    path = lake.benchmark_items_path("cs_one", root)
    items = lake.read_table(path)  # a second file repeating item 0 breaks the primary key
    lake.write_parquet(items.slice(0, 1), path.with_name("part-1.parquet"), schemas.BENCHMARK_ITEMS)
    done = _xstage_build(root, tmp_path / "configs")
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    assert "| failed_check" not in done.stdout  # dbt show's preview table stays quiet
    text = " ".join(done.stdout.split())  # the console wraps long lines
    assert (
        "staging.stg_lake__benchmark_items: 1 key: two or more rows share the key"
        " (benchmark, item_id) (check unique(benchmark, item_id));"
        " first keys: benchmark=cs_one, item_id=cs_one-0000"
    ) in text
    assert "the previous warehouse is unchanged" in text
    assert lake.warehouse_path(root).read_bytes() == b"previous warehouse"


def test_predictions_that_join_no_items_fail_the_build_naming_the_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _lake(tmp_path)
    root = written.root
    path = lake.benchmark_items_path("sci_two", root)
    items = lake.read_table(path)
    kept = items.filter(pc.invert(pc.is_in(items["item_id"], pa.array(["sci_two-0001"]))))
    lake.write_parquet(kept, path, schemas.BENCHMARK_ITEMS)
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(written.config_dir))
    with pytest.raises(BuildError) as failure:
        build(root=root, full_refresh=True)
    lines = [line for line in str(failure.value).splitlines() if "predictions_join_items" in line]
    assert len(lines) == 2 * len(written.runs)  # every run x stage scored the item
    run = synthetic.run_id("tiny", synthetic.mixture_id("web_a", synthetic.PROPORTIONS[0]), 0)
    n_choices = synthetic.CATEGORY_CHOICES["science"]
    expected = (
        "predictions_join_items: prediction rows whose item_id is not in lake/benchmark_items for"
        " their benchmark: re-ingest the benchmark, or re-import the run with the ingested item"
        f" ids: run_id={run}, stage=pretrain, benchmark=sci_two, n_rows={n_choices}, n_items=1,"
        " first_item_id=sci_two-0001"
    )
    assert expected in lines
    assert lake.warehouse_path(root).read_bytes() == b"previous warehouse"
