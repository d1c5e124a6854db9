import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xstage import lake, schemas


def _items(n: int = 2) -> pa.Table:
    return pa.table(
        {
            "item_id": [f"validation-{i:06d}" for i in range(n)],
            "split": ["validation"] * n,
            "context": ["Question: q\nAnswer:"] * n,
            "choices": [["a", "b"]] * n,
            "gold_index": [0] * n,
            "category": ["science"] * n,
            "n_choices": [2] * n,
            "item_hash": ["h"] * n,
            "source": ["x"] * n,
            "choice_contexts": [None] * n,
            "continuation": [None] * n,
        }
    )


def test_paths_follow_the_hive_layout(data_dir):
    path = lake.predictions_path("240M", "web70_code30", 0, "sft", "arc_easy", 1200)
    rel = path.relative_to(data_dir)
    assert rel == Path(
        "lake/predictions/scale=240M/mixture=web70_code30/seed=0/stage=sft/"
        "benchmark=arc_easy/part-1200.parquet"
    )
    assert (
        lake.runs_path("240M__x__seed0", "pretrain").name == "part-240M__x__seed0__pretrain.parquet"
    )
    assert lake.benchmark_items_path("piqa").parts[-2:] == ("benchmark=piqa", "part-0.parquet")


@pytest.mark.parametrize(
    "call",
    [
        lambda: lake.benchmark_items_path("../etc"),
        lambda: lake.predictions_path("240M", "a/b", 0, "sft", "x", 1),
        lambda: lake.predictions_path("240M", "a", 0, "finetune", "x", 1),
        lambda: lake.runs_path("a/../../b", "sft"),
    ],
)
def test_paths_reject_traversal_and_bad_ids(call):
    with pytest.raises(ValueError, match=r"slug|name|must be one of"):
        call()


def test_write_parquet_casts_to_the_exact_schema(data_dir):
    path = lake.benchmark_items_path("piqa")
    lake.write_parquet(_items(), path, schemas.BENCHMARK_ITEMS)
    assert pq.read_schema(path).remove_metadata().equals(schemas.BENCHMARK_ITEMS)
    assert pq.read_table(path).num_rows == 2
    assert [p.name for p in path.parent.iterdir()] == ["part-0.parquet"]


def test_write_parquet_refuses_missing_columns(data_dir):
    path = lake.benchmark_items_path("piqa")
    with pytest.raises(ValueError, match=r"missing \['source'\]"):
        lake.write_parquet(_items().drop(["source"]), path, schemas.BENCHMARK_ITEMS)
    assert not path.exists()


def test_failed_write_leaves_no_file(data_dir):
    path = lake.benchmark_items_path("piqa")
    bad = _items().set_column(4, "gold_index", pa.array(["zero", "one"]))
    with pytest.raises(pa.ArrowInvalid):
        lake.write_parquet(bad, path, schemas.BENCHMARK_ITEMS)
    assert not path.exists()
    assert not path.parent.exists() or os.listdir(path.parent) == []


def test_data_dir_comes_from_env(data_dir, monkeypatch, tmp_path):
    assert lake.data_dir() == data_dir.resolve()
    monkeypatch.setenv("XSTAGE_DATA_DIR", str(tmp_path / "other"))
    assert lake.lake_dir() == (tmp_path / "other" / "lake").resolve()
