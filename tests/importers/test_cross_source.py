"""An lm-eval log of an ingested benchmark lands on the lake's own items (matched by item_hash)."""

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from importers.batch import RunKey
from importers.lm_eval import import_lm_eval
from runner.cli import app
from xstage import lake

from .conftest import TOY_MAP, write_samples

SHOTS = "Question: What do plants need?\nAnswer: light\n\nQuestion: What is ice?\nAnswer: water\n\n"


def lm_eval_line_for(doc_id: int, item: dict) -> dict:
    """An lm-eval arc_easy 2-shot line for one ingested item (its own template, " " + choice)."""
    n = len(item["choices"])
    lls = [-float(k + 1) for k in range(n)]
    return {
        "doc_id": doc_id,
        "doc": {"id": f"lm-eval-{doc_id}"},
        "target": item["gold_index"],
        "arguments": [[SHOTS + item["context"], " " + choice] for choice in item["choices"]],
        "resps": [[[ll, False]] for ll in lls],
        "filtered_resps": [[ll, False] for ll in lls],
        "acc": float(item["gold_index"] == 0),
    }


@pytest.mark.slow  # ~9 s: ingests arc_easy from the offline mirror
def test_lm_eval_arc_easy_log_adopts_ingested_item_ids(tmp_path, data_dir, hf_mirror):
    result = CliRunner().invoke(app, ["ingest", "benchmarks", "-b", "arc_easy", "--max-rows", "5"])
    assert result.exit_code == 0, result.output
    items_path = lake.benchmark_items_path("arc_easy")
    before = items_path.read_bytes()
    items = pq.read_table(items_path).to_pylist()
    lines = [lm_eval_line_for(k, item) for k, item in enumerate(reversed(items))]
    path = write_samples(tmp_path / "in", "arc_easy", lines)
    summary = import_lm_eval(
        [path], RunKey("pythia_70m", "pretrain", "70M", "pythia"), task_map=TOY_MAP
    )
    assert "benchmark_items" not in summary.rows
    assert items_path.read_bytes() == before
    leaf = lake.predictions_path("70M", "pythia", 0, "pretrain", "arc_easy", 0)
    predicted = pq.read_table(leaf).to_pylist()
    assert {row["item_id"] for row in predicted} == {item["item_id"] for item in items}
    gold = {item["item_id"]: item["gold_index"] for item in items}
    assert all(row["is_gold"] == (row["choice_index"] == gold[row["item_id"]]) for row in predicted)
