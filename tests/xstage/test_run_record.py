"""The typed lake/runs row and checkpoint meta.json shared by training, scoring and importers."""

import dataclasses
import datetime as dt
import json
import subprocess

import pyarrow.parquet as pq
import pytest

from tests.checkpoints import write_meta
from xstage import lake, schemas
from xstage.run_record import (
    CheckpointMetaError,
    RunRecord,
    git_sha,
    nominal_params,
    read_checkpoint_meta,
    write_runs,
)


@pytest.mark.parametrize(
    ("scale", "expected"),
    [("14M", 14_000_000), ("1.4B", 1_400_000_000), ("135M", 135_000_000), ("900K", 900_000),
     ("240M", 240_000_000), ("tiny", None), ("pythia", None), (None, None)],
)  # fmt: skip
def test_nominal_params_reads_the_scale_name(scale, expected):
    assert nominal_params(scale) == expected


def test_run_record_fields_are_the_runs_columns():
    assert {field.name for field in dataclasses.fields(RunRecord)} == set(schemas.RUNS.names)


def test_a_checkpoint_becomes_a_runs_row_and_a_leaf(tmp_path, data_dir):
    final = tmp_path / "final"
    pretrain = write_meta(final, checkpoint_step=30, wall_seconds=2.25)
    sft = write_meta(tmp_path / "sft", stage="sft", datasets=["alpaca_gpt4"], epochs=2)
    record = RunRecord.of_checkpoint(read_checkpoint_meta(final), final)
    assert (record.origin, record.checkpoint_step, record.wall_seconds) == ("train", 30, 2.25)
    assert record.checkpoint_path == str(final)
    assert record.checkpoint_sha256 == pretrain.checkpoint_sha256
    assert RunRecord.of_checkpoint(sft, tmp_path / "sft").origin == "sft"
    path = write_runs([record, dataclasses.replace(record, checkpoint_step=60)])
    assert path == lake.runs_path(record.run_id, "pretrain")
    table = pq.read_table(path)
    assert table.schema == schemas.RUNS
    assert table.column("checkpoint_step").to_pylist() == [30, 60]
    assert table.column("created_at")[0].as_py() == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(AssertionError, match="one run x stage"):
        write_runs([record, dataclasses.replace(record, stage="sft")])


def test_a_bad_meta_json_names_the_file_and_field(tmp_path):
    with pytest.raises(CheckpointMetaError, match="not a finished checkpoint"):
        read_checkpoint_meta(tmp_path)
    meta = json.loads(write_meta(tmp_path).to_json())
    del meta["checkpoint_step"]
    meta["seed"] = "zero"
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointMetaError) as error:
        read_checkpoint_meta(tmp_path)
    message = str(error.value)
    assert str(tmp_path / "meta.json") in message
    assert "field checkpoint_step" in message
    assert "field seed" in message
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointMetaError, match=r"meta\.json: unreadable"):
        read_checkpoint_meta(tmp_path)


def test_git_sha_is_this_checkout_head():
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    assert git_sha() == (head.stdout.strip() if head.returncode == 0 else None)
