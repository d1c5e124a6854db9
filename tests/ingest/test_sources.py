"""Loading through `datasets`: mirror layout, aliases, missing files, no mirror and no hub."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from ingest.sources import HubUnavailableError, SourceMissingError, load_split, mirror_path
from runner.cli import app
from tests.ingest.conftest import write_mirror_file
from xstage.config import DatasetSource

runner = CliRunner()


def test_mirror_path_follows_the_layout_and_index_aliases(hf_mirror: Path):
    arc = DatasetSource(dataset="allenai/ai2_arc", config="ARC-Easy", split="test")
    assert (
        mirror_path(arc, hf_mirror) == hf_mirror / "allenai__ai2_arc" / "ARC-Easy" / "test.parquet"
    )
    legacy = DatasetSource(dataset="piqa", split="validation")
    assert (
        mirror_path(legacy, hf_mirror)
        == hf_mirror / "ybisk__piqa" / "default" / "validation.parquet"
    )
    assert len(load_split(legacy)) == 1838


def test_mirror_path_refuses_to_leave_the_mirror(hf_mirror: Path):
    with pytest.raises(ValueError, match="refusing path component"):
        mirror_path(DatasetSource(dataset="../etc", split="x"), hf_mirror)


def test_local_file_loads_with_hub_field_names(temp_mirror: Path):
    table = pa.table({"question1": ["a?"], "question2": ["b?"], "label": [1], "idx": [7]})
    write_mirror_file(temp_mirror, "nyu-mll/glue", "qqp", "validation", table)
    (temp_mirror / "INDEX.json").write_text(json.dumps({"aliases": {"glue": "nyu-mll/glue"}}))
    dataset = load_split(DatasetSource(dataset="glue", config="qqp", split="validation"))
    assert dataset.column_names == ["question1", "question2", "label", "idx"]
    assert dataset[0] == {"question1": "a?", "question2": "b?", "label": 1, "idx": 7}


def test_missing_mirror_file_is_one_line_naming_what_and_how(hf_mirror: Path):
    with pytest.raises(SourceMissingError) as error:
        load_split(DatasetSource(dataset="allenai/sciq", split="test"))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("allenai/sciq:default:test: not in the mirror")
    assert "unsetting XSTAGE_HF_MIRROR" in message
    assert "add that file to the mirror" in message


def test_no_mirror_and_offline_hub_fails_fast_naming_the_mirror_variable(monkeypatch):
    monkeypatch.delenv("XSTAGE_HF_MIRROR")
    start = time.perf_counter()
    with pytest.raises(HubUnavailableError, match=r"set XSTAGE_HF_MIRROR=<mirror dir>"):
        load_split(DatasetSource(dataset="allenai/sciq", split="test"))
    assert time.perf_counter() - start < 5


def test_cli_missing_benchmarks_are_reported_and_the_rest_continue():
    result = runner.invoke(app, ["ingest", "benchmarks", "-b", "sciq", "-b", "cb", "-b", "mrpc"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("missing ")]
    assert [line.split(":")[0] for line in lines] == ["missing sciq", "missing mrpc"]
    assert "written" in result.output


def test_cli_exit_code_is_one_when_nothing_requested_could_be_ingested():
    result = runner.invoke(app, ["ingest", "benchmarks", "-b", "sciq", "-b", "multirc"])
    assert result.exit_code == 1
    assert "missing multirc: aps/super_glue:multirc:validation: not in the mirror" in result.output


def test_cli_unknown_benchmark_is_a_usage_error():
    result = runner.invoke(app, ["ingest", "benchmarks", "-b", "nope"])
    assert result.exit_code == 2
    assert "no benchmarks config 'nope'" in result.output


def test_cli_without_mirror_offline_stops_with_one_error(monkeypatch):
    monkeypatch.delenv("XSTAGE_HF_MIRROR")
    result = runner.invoke(app, ["ingest", "benchmarks"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error")]
    assert len(errors) == 1
    assert "set XSTAGE_HF_MIRROR=<mirror dir>" in errors[0]
