"""Real lm-evaluation-harness and lighteval runs through `xstage import` + `xstage build` (issue 14).

The fixtures are real harness output for SmolLM2-135M-Instruct on 40 PIQA + 40 ARC-Easy items
of the offline mirror: lm-eval 0.4.13 (--log_samples) and lighteval 0.13.0 (--save-details;
it applies the model's chat template, so its numbers differ from lm-eval's), made by
tests/importers/fixtures/harness/regen.sh. The marts must reproduce each harness's own reported
`acc` and `acc_norm` (its results_*.json) exactly, the harness-metrics mart must show a zero
difference, and the order of import and ingest must not matter. Everything runs through the
real CLI in subprocesses, as a user would.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

FIXTURES = Path(__file__).with_name("fixtures") / "harness"
LM_EVAL = FIXTURES / "lm_eval"
LIGHTEVAL = FIXTURES / "lighteval"
TASKS = {"piqa_mirror": "piqa", "arc_easy_mirror": "arc_easy"}
RUNS = {"lm_eval": "SmolLM2-135M-Instruct", "lighteval": "SmolLM2-135M-Instruct-lighteval"}
CLI = [sys.executable, "-c", "from runner.cli import app; app()"]
IMPORTS = [
    [
        "import", "lm-eval", str(LM_EVAL), "--run-id", RUNS["lm_eval"], "--stage", "sft",
        "--scale", "135M", "--unit", "smollm2", "--task-map", str(FIXTURES / "task_map.yaml"),
    ],
    [
        "import", "lighteval", str(LIGHTEVAL), "--run-id", RUNS["lighteval"], "--stage", "sft",
        "--scale", "135M", "--unit", "smollm2_lighteval",
        "--task-map", str(FIXTURES / "lighteval_task_map.yaml"),
    ],
]  # fmt: skip


def xstage(*args: str) -> subprocess.CompletedProcess:
    """Run the real CLI; fail the test (showing stderr) on a non-zero exit or a traceback."""
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, env=os.environ.copy())
    assert done.returncode == 0, f"xstage {' '.join(args)}:\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def query(sql: str) -> list[dict]:
    """`xstage query SQL --format csv`, parsed."""
    out = xstage("query", sql, "--format", "csv").stdout
    return list(csv.DictReader(io.StringIO(out)))


def harness_results(harness: str) -> dict[tuple[str, str], float]:
    """(benchmark, metric) -> the value the harness reported in its results_*.json."""
    (path,) = (LM_EVAL if harness == "lm_eval" else LIGHTEVAL).glob("results_*.json")
    results = json.loads(path.read_text())["results"]
    suffix = ",none" if harness == "lm_eval" else ""
    return {
        (TASKS[task.removesuffix("|0")], metric): values[f"{metric}{suffix}"]
        for task, values in results.items()
        if task.removesuffix("|0") in TASKS
        for metric in ("acc", "acc_norm")
    }


def assert_marts_reproduce(harness: str) -> None:
    expected, run_id = harness_results(harness), RUNS[harness]
    scores = query(
        "select benchmark, length_normalization, accuracy, n_items from marts.fct_benchmark_scores "
        f"where run_id = '{run_id}' and length_normalization in ('none', 'per_char')"
    )
    ours = {(r["benchmark"], r["length_normalization"]): float(r["accuracy"]) for r in scores}
    assert len(ours) == 4
    for benchmark in TASKS.values():
        assert ours[(benchmark, "none")] == expected[(benchmark, "acc")]
        assert ours[(benchmark, "per_char")] == expected[(benchmark, "acc_norm")]
    assert {int(r["n_items"]) for r in scores} == {40}
    metrics = query(
        "select benchmark, metric, harness_value, xstage_value, difference, n_items_compared, "
        "n_items_disagreeing from marts.fct_harness_metrics "
        f"where run_id = '{run_id}' and metric in ('acc', 'acc_norm')"
    )
    assert len(metrics) == 4
    for row in metrics:
        assert float(row["harness_value"]) == expected[(row["benchmark"], row["metric"])]
        assert float(row["xstage_value"]) == float(row["harness_value"])
        assert float(row["difference"]) == 0.0
        assert (row["n_items_compared"], row["n_items_disagreeing"]) == ("40", "0")


def imported_rows_in_the_marts(run_id: str) -> dict[str, int]:
    rows = query(
        "select benchmark, count(distinct item_id) as n from marts.fct_item_predictions "
        f"where run_id = '{run_id}' and length_normalization = 'none' group by 1"
    )
    return {row["benchmark"]: int(row["n"]) for row in rows}


@pytest.mark.parametrize("order", ["import_first", "ingest_first"])
def test_import_reproduces_the_harness_whatever_the_order_of_ingest(data_dir, order):
    """imports -> ingest -> ingest --overwrite -> build, or ingest -> imports -> ingest --overwrite.

    Both keep every imported row in fct_item_predictions, and the marts equal each harness's own
    acc / acc_norm (the first order used to lose PIQA: the re-ingest gave its items new ids).
    """
    ingest = ["ingest", "benchmarks", "-b", "piqa", "-b", "arc_easy"]
    if order == "import_first":
        for args in IMPORTS:
            xstage(*args)
        xstage(*ingest)
        xstage(*ingest, "--overwrite")
    else:
        xstage(*ingest)
        for args in IMPORTS:
            xstage(*args)
        xstage(*ingest, "--overwrite")
    xstage("build")
    for harness, run_id in RUNS.items():
        assert imported_rows_in_the_marts(run_id) == {"piqa": 40, "arc_easy": 40}, harness
        assert_marts_reproduce(harness)
    counts = query("select benchmark, n_items from marts.dim_benchmarks where n_items > 0")
    assert {r["benchmark"]: int(r["n_items"]) for r in counts} == {"arc_easy": 2376, "piqa": 1838}
