"""Imported runs through `xstage build`: the marts reproduce the harness's numbers and scipy's."""

import gzip
import json
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats

from importers.batch import RunKey
from importers.lm_eval import import_lm_eval
from importers.table import import_table
from xstage import lake

from .conftest import TOY_MAP, lm_eval_line, write_samples
from .test_table import BENCHMARKS, FAMILIES, family_table

pytestmark = [pytest.mark.dbt, pytest.mark.slow]


def build_and_query(sql: str) -> list[tuple]:
    from warehouse.build import build

    result = build()
    with duckdb.connect(str(result.path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_warehouse_accuracy_per_task_equals_the_lm_eval_acc_mean(metabench_dir, data_dir):
    import_lm_eval([metabench_dir], RunKey("pythia_14m", "pretrain", "14M", "pythia"))
    rows = build_and_query(
        "select benchmark, length_normalization, accuracy from marts.fct_benchmark_scores "
        "where run_id = 'pythia_14m' and length_normalization in ('none', 'per_char')"
    )
    scores = {(benchmark, norm): accuracy for benchmark, norm, accuracy in rows}
    for path in sorted(metabench_dir.glob("samples_*.jsonl.gz")):
        task = path.name.removeprefix("samples_").split("_2024")[0]
        with gzip.open(path, "rt") as handle:
            lines = [json.loads(line) for line in handle]
        acc = sum(line["acc"] for line in lines) / len(lines)
        assert scores[(task, "none")] == pytest.approx(acc, abs=1e-12), task
        if "acc_norm" in lines[0]:
            acc_norm = sum(line["acc_norm"] for line in lines) / len(lines)
            assert scores[(task, "per_char")] == pytest.approx(acc_norm, abs=1e-12), task
    assert len({benchmark for benchmark, _ in scores}) == 5


def family_logs(tmp_path: Path, seed: int = 3) -> dict[tuple[str, str, str], float]:
    """lm-eval logs for 6 families x base/instruct x 3 benchmarks; return expected accuracies."""
    rng = np.random.default_rng(seed)
    expected = {}
    for f, family in enumerate(FAMILIES):
        for stage, shift in (("pretrain", 0.0), ("sft", 0.4)):
            for benchmark in ("toy_a", "toy_b", "toy_c"):
                lines, correct = [], 0
                for i in range(30):
                    gold = i % 4
                    lls = rng.normal(-5.0, 1.0, size=4)
                    lls[gold] += rng.normal(0.3 * f + shift, 1.0)
                    # rounding makes exact ties; log-probs are <= 0 (the importer refuses others)
                    lls = [min(float(np.round(ll, 2)), 0.0) for ll in lls]
                    correct += int(np.argmax(lls)) == gold
                    lines.append(
                        lm_eval_line(i, f"{benchmark} question {i}", list("wxyz"), gold, lls)
                    )
                write_samples(tmp_path / family / stage, benchmark, lines)
                expected[(family, stage, benchmark)] = correct / 30
            run = RunKey(family, stage, "7B", family)
            import_lm_eval([tmp_path / family / stage], run, task_map=TOY_MAP)
    return expected


def test_family_logs_give_cross_stage_transfer_equal_to_scipy(tmp_path, data_dir):
    expected = family_logs(tmp_path)
    rows = build_and_query(
        "select benchmark, method, n, r, p_value from marts.fct_cross_stage_transfer "
        "where scale = '7B' and metric = 'accuracy' and length_normalization = 'none'"
    )
    assert len(rows) == 6
    for benchmark, method, n, r, p_value in rows:
        pt = [expected[(family, "pretrain", benchmark)] for family in FAMILIES]
        sft = [expected[(family, "sft", benchmark)] for family in FAMILIES]
        reference = (stats.pearsonr if method == "pearson" else stats.spearmanr)(pt, sft)
        assert n == len(FAMILIES)
        assert r == pytest.approx(reference[0], abs=1e-9), (benchmark, method)
        assert p_value == pytest.approx(reference[1], abs=1e-9), (benchmark, method)


def test_family_table_gives_cross_stage_transfer_equal_to_scipy(tmp_path, data_dir):
    frame = family_table()
    path = tmp_path / "results.csv"
    frame.write_csv(path)
    import_table(path)
    rows = build_and_query(
        "select benchmark, method, n, r, p_value from marts.fct_cross_stage_transfer "
        "where scale = '7B' and metric = 'accuracy' and length_normalization = 'none'"
    )
    assert len(rows) == 2 * len(BENCHMARKS)
    accuracy = frame.group_by(["unit", "stage", "benchmark"]).agg(pl.col("is_correct").mean())
    lookup = {(u, s, b): a for u, s, b, a in accuracy.iter_rows()}
    for benchmark, method, n, r, p_value in rows:
        pt = [lookup[(family, "pretrain", benchmark)] for family in FAMILIES]
        sft = [lookup[(family, "sft", benchmark)] for family in FAMILIES]
        reference = (stats.pearsonr if method == "pearson" else stats.spearmanr)(pt, sft)
        assert n == len(FAMILIES)
        assert r == pytest.approx(reference[0], abs=1e-9), (benchmark, method)
        assert p_value == pytest.approx(reference[1], abs=1e-9), (benchmark, method)
    assert lake.item_results_path("7B", "llama", 0, "sft", "piqa", 0).is_file()


# real model names of four sizes, each with its own scale, compared as one correlation group
PYTHIA = ["pythia-70m-deduped", "pythia-160m-deduped", "pythia-410m-deduped", "pythia-1.4b-deduped"]
PYTHIA_SCALES = ["70M", "160M", "410M", "1.4B"]


def test_models_of_different_sizes_correlate_as_one_group(tmp_path, data_dir):
    frame = family_table().filter(pl.col("unit").is_in(FAMILIES[:4]))
    names = dict(zip(FAMILIES[:4], PYTHIA, strict=True))
    scales = dict(zip(FAMILIES[:4], PYTHIA_SCALES, strict=True))
    frame = frame.with_columns(
        pl.col("unit").replace_strict(names).alias("unit"),
        pl.col("run_id").replace_strict(names).alias("run_id"),
        pl.col("unit").replace_strict(scales).alias("scale"),
        pl.lit("pythia").alias("group"),
    )
    path = tmp_path / "results.csv"
    frame.write_csv(path)
    import_table(path)
    rows = build_and_query(
        "select benchmark, n, r from marts.fct_cross_stage_transfer where scale = 'pythia'"
        " and metric = 'accuracy' and length_normalization = 'none' and method = 'pearson'"
    )
    assert len(rows) == len(BENCHMARKS)
    accuracy = frame.group_by(["unit", "stage", "benchmark"]).agg(pl.col("is_correct").mean())
    lookup = {(u, s, b): a for u, s, b, a in accuracy.iter_rows()}
    for benchmark, n, r in rows:
        pt = [lookup[(name, "pretrain", benchmark)] for name in PYTHIA]
        sft = [lookup[(name, "sft", benchmark)] for name in PYTHIA]
        assert n == 4
        assert r == pytest.approx(stats.pearsonr(pt, sft)[0], abs=1e-9), benchmark
    with duckdb.connect(str(lake.warehouse_path()), read_only=True) as con:
        sizes = con.execute(
            "select mixture, n_params_nominal from marts.dim_runs where scale = 'pythia'"
            " and stage = 'pretrain' order by n_params_nominal"
        ).fetchall()
    expected_sizes = [70_000_000, 160_000_000, 410_000_000, 1_400_000_000]
    assert sizes == list(zip(PYTHIA, expected_sizes, strict=True))


def test_a_harness_metric_that_disagrees_shows_its_difference_and_items(tmp_path, data_dir):
    """The harness's own per-item acc beside ours: one item where the log says acc = 1 but its
    log-probs pick a wrong answer gives difference (ours - harness) -1/10, one item apart."""
    lines = []
    for i in range(10):
        lls = [-1.0, -2.0, -3.0]  # choice 0 wins; gold = i % 3, so items 0, 3, 6, 9 are right
        lines.append(lm_eval_line(i, f"question {i}", ["a", "b", "c"], i % 3, lls))
    lines[1]["acc"] = 1.0  # the harness says right; by its log-probs item 1 is wrong
    write_samples(tmp_path, "toy_task", lines)
    import_lm_eval([tmp_path], RunKey("m", "pretrain", "1B", "m"), task_map=TOY_MAP)
    (row,) = build_and_query(
        "select harness_value, xstage_value, difference, n_items_compared, n_items_disagreeing"
        " from marts.fct_harness_metrics where run_id = 'm' and metric = 'acc'"
    )
    harness, ours, difference, compared, disagreeing = row
    assert (harness, ours) == (pytest.approx(0.5), pytest.approx(0.4))
    assert difference == pytest.approx(-0.1, abs=1e-12)
    assert (int(compared), int(disagreeing)) == (10, 1)
