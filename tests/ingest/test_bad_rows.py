"""Bad input is never kept or relabelled: it fails naming dataset, split, row and field, or is
recorded under --skip-invalid. Each case is a tiny hub-shaped Parquet file in a temp mirror,
read through the real loader.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from ingest.benchmark_items import ingest_benchmark
from ingest.rejects import InvalidDataError
from ingest.sources import find_bad_text
from runner.cli import app
from tests.ingest.conftest import invalid_utf8_strings, write_mirror_file
from xstage import lake
from xstage.config import load_config

GOOD_PIQA = {"goal": "Open a jar", "sol1": "Twist the lid.", "sol2": "Hit it.", "label": 0}


def piqa_table(*overrides: dict) -> pa.Table:
    rows = [{**GOOD_PIQA, **override} for override in overrides]
    schema = pa.schema(
        [("goal", pa.string()), ("sol1", pa.string()), ("sol2", pa.string()), ("label", pa.int64())]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def ingest_piqa(mirror: Path, table: pa.Table, **options):
    write_mirror_file(mirror, "ybisk/piqa", None, "validation", table)
    return ingest_benchmark(load_config("benchmarks", "piqa"), overwrite=True, **options)


@pytest.mark.parametrize(
    ("override", "field", "reason"),
    [
        ({"sol2": ""}, "sol2", "empty choice"),
        ({"sol2": "   "}, "sol2", "empty choice"),
        ({"sol1": None}, "sol1", "missing"),
        ({"label": 2}, "label", "label 2 out of range 0..1"),
        ({"label": -1}, "label", "label -1 out of range 0..1"),
        ({"goal": ""}, "goal", "empty text"),
        ({"label": None}, "label", "missing"),
    ],
)
def test_invalid_row_fails_naming_dataset_split_row_and_field(temp_mirror, override, field, reason):
    table = piqa_table({}, {}, override)
    with pytest.raises(InvalidDataError) as error:
        ingest_piqa(temp_mirror, table)
    message = str(error.value)
    assert message.startswith(
        f"ybisk/piqa (config default) split validation row 2 field '{field}': "
    )
    assert reason in message
    assert not lake.benchmark_items_path("piqa").exists()


def test_label_of_the_wrong_type_fails(temp_mirror):
    table = pa.table(
        {"goal": ["g", "g"], "sol1": ["a", "a"], "sol2": ["b", "b"], "label": ["0", "1"]}
    )
    with pytest.raises(
        InvalidDataError, match=r"row 0 field 'label': expected an integer, got str '0'"
    ):
        ingest_piqa(temp_mirror, table)


def test_string_label_dataset_rejects_an_integer_label(temp_mirror):
    table = pa.table({"sentence": ["A _ b."], "option1": ["x"], "option2": ["y"], "answer": [1]})
    write_mirror_file(temp_mirror, "allenai/winogrande", "winogrande_xl", "validation", table)
    with pytest.raises(InvalidDataError, match=r"row 0 field 'answer': expected text, got int 1"):
        ingest_benchmark(load_config("benchmarks", "winogrande"))


@pytest.mark.parametrize(
    ("raw", "why"),
    [(b"caf\xe9", "unexpected end of data"), (b"\xed\xa0\x80 lone surrogate", "invalid")],
)
def test_non_utf8_text_fails_naming_row_and_field(temp_mirror, raw, why):
    table = piqa_table({}, {}, {}).set_column(1, "sol1", invalid_utf8_strings([b"ok", b"ok", raw]))
    with pytest.raises(InvalidDataError) as error:
        ingest_piqa(temp_mirror, table)
    assert "split validation row 2 field 'sol1': not valid UTF-8 text" in str(error.value)
    assert why in str(error.value)


def test_lone_surrogate_in_python_text_is_caught():
    assert find_bad_text({"a": "fine", "b": ["ok", "bad \ud800"]}) == (
        "b[1]",
        "not valid UTF-8 text (surrogates not allowed)",
    )
    assert find_bad_text({"a": "fine", "b": ["ok"]}) is None


def arc_table(ids: list[str]) -> pa.Table:
    choices = {"text": ["a", "b", "c", "d"], "label": ["A", "B", "C", "D"]}
    rows = [
        {"id": item_id, "question": f"q{n}", "choices": choices, "answerKey": "B"}
        for n, item_id in enumerate(ids)
    ]
    return pa.Table.from_pylist(rows)


def test_duplicate_ids_fail_and_are_never_kept(temp_mirror):
    write_mirror_file(
        temp_mirror, "allenai/ai2_arc", "ARC-Easy", "test", arc_table(["x1", "x2", "x1", "x3"])
    )
    config = load_config("benchmarks", "arc_easy")
    with pytest.raises(
        InvalidDataError, match=r"row 0 field 'id': duplicate item id 'x1' \(rows \[0, 2\]\)"
    ):
        ingest_benchmark(config)
    result = ingest_benchmark(config, skip_invalid=True)
    kept = pq.read_table(result.path).column("item_id").to_pylist()
    assert kept == ["x2", "x3"]
    assert result.n_rejected == 2


def test_answer_key_not_among_labels_fails(temp_mirror):
    table = arc_table(["x1"]).set_column(3, "answerKey", pa.array(["E"]))
    write_mirror_file(temp_mirror, "allenai/ai2_arc", "ARC-Easy", "test", table)
    with pytest.raises(
        InvalidDataError, match=r"row 0 field 'answerKey': answer key 'E' is not among"
    ):
        ingest_benchmark(load_config("benchmarks", "arc_easy"))


def test_skip_invalid_writes_valid_rows_and_a_sidecar(temp_mirror):
    table = piqa_table({}, {"sol2": ""}, {"label": 1}, {"label": 7}, {})
    result = ingest_piqa(temp_mirror, table, skip_invalid=True)
    assert (result.status, result.n_rows, result.n_rejected) == ("written", 3, 2)
    items = pq.read_table(result.path).to_pylist()
    assert [item["item_id"] for item in items] == [
        "validation-000000",
        "validation-000002",
        "validation-000004",
    ]
    assert [item["gold_index"] for item in items] == [0, 1, 0]
    sidecar = json.loads(lake.rejects_path(result.path).read_text())
    assert sidecar["n_rejected"] == 2
    assert sidecar["n_written"] == 3
    assert sidecar["by_field"] == {"sol2": 1, "label": 1}
    assert sidecar["rows"][1] == {"row": 3, "field": "label", "reason": "label 7 out of range 0..1"}
    assert sidecar["source"] == {"dataset": "ybisk/piqa", "config": None, "split": "validation"}
    clean = ingest_piqa(temp_mirror, piqa_table({}, {}), skip_invalid=True)
    assert clean.n_rejected == 0
    assert not lake.rejects_path(clean.path).exists(), "a stale sidecar is removed on overwrite"


def test_cli_skip_invalid_reports_rejects_and_exit_code(temp_mirror):
    write_mirror_file(temp_mirror, "ybisk/piqa", None, "validation", piqa_table({}, {"label": 5}))
    runner = CliRunner()
    failed = runner.invoke(app, ["ingest", "benchmarks", "-b", "piqa"])
    assert failed.exit_code == 1
    assert (
        "invalid piqa: ybisk/piqa (config default) split validation row 1 field 'label'"
        in failed.output
    )
    skipped = runner.invoke(app, ["ingest", "benchmarks", "-b", "piqa", "--skip-invalid"])
    assert skipped.exit_code == 0, skipped.output
    assert "_rejected.json" in skipped.output


def test_corrupt_or_empty_mirror_file_is_one_line_and_the_next_benchmark_still_runs(temp_mirror):
    from ingest.benchmark_items import ingest_benchmarks

    path = write_mirror_file(temp_mirror, "ybisk/piqa", None, "validation", piqa_table())
    path.write_bytes(b"PAR1 not really parquet")
    configs = [load_config("benchmarks", name) for name in ("piqa", "winogrande")]
    results = ingest_benchmarks(configs)
    assert [r.status for r in results] == ["failed", "missing"]
    assert results[0].message.startswith(f"{path}: not a readable Parquet file")
    assert "\n" not in results[0].message
    write_mirror_file(temp_mirror, "ybisk/piqa", None, "validation", piqa_table().slice(0, 0))
    with pytest.raises(InvalidDataError, match="the mirror file has 0 rows"):
        ingest_piqa(temp_mirror, piqa_table().slice(0, 0))


def test_ingest_after_import_keeps_the_imported_ids():
    from ingest.benchmark_items import adopt_existing_ids

    imported = [
        {"item_id": "000001", "item_hash": "h1", "source": "import:lm_eval:piqa"},
        {"item_id": "000002", "item_hash": "hx", "source": "import:lm_eval:piqa"},
    ]
    ingested = [
        {"item_id": "validation-000000", "item_hash": "h1", "source": "hf"},
        {"item_id": "validation-000001", "item_hash": "h2", "source": "hf"},
    ]
    ids = [row["item_id"] for row in adopt_existing_ids(ingested, imported, Path("leaf"))]
    assert ids == ["000001", "validation-000001", "000002"]  # nothing an import wrote vanishes
    # a re-ingest (--overwrite) keeps the ids an earlier ingest adopted; stale ingested rows go
    adopted = [{**row, "item_id": i, "source": "hf"} for row, i in zip(ingested, ids, strict=False)]
    adopted.append({"item_id": "validation-000009", "item_hash": "gone", "source": "hf"})
    again = adopt_existing_ids(ingested, adopted + imported[1:], Path("leaf"))
    assert [row["item_id"] for row in again] == ids
