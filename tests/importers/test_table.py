"""Generic per-item tables: many families x base/instruct, no per-choice log-probs."""

from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from scipy import stats

from importers.batch import ImportFailed
from importers.table import import_table
from xstage import lake, schemas

FAMILIES = ["llama", "qwen", "gemma", "mistral", "olmo", "phi"]
BENCHMARKS = ["arc_easy", "arc_challenge", "piqa", "hellaswag", "boolq", "rte"]
N_ITEMS = 40


def family_table(seed: int = 7) -> pl.DataFrame:
    """6 families x {pretrain, sft} x 6 benchmarks x 40 items with family-specific skill."""
    rng = np.random.default_rng(seed)
    skill = rng.uniform(0.3, 0.8, size=len(FAMILIES))
    rows = []
    for f, family in enumerate(FAMILIES):
        for stage, boost in (("pretrain", 0.0), ("sft", 0.1)):
            for benchmark in BENCHMARKS:
                p = np.clip(skill[f] + boost + rng.normal(0, 0.08), 0.05, 0.95)
                for i in range(N_ITEMS):
                    confidence = float(rng.uniform(0.25, 1.0))
                    rows.append(
                        {
                            "run_id": family,
                            "stage": stage,
                            "unit": family,
                            "scale": "7B",
                            "benchmark": benchmark,
                            "item_id": f"{benchmark}-{i:04d}",
                            "is_correct": bool(rng.random() < p),
                            "confidence": confidence if stage == "sft" or i % 2 else None,
                        }
                    )
    return pl.DataFrame(rows)


def test_multi_family_table_gives_cross_stage_correlations_equal_to_scipy(tmp_path, data_dir):
    frame = family_table()
    path = tmp_path / "results.csv"
    frame.write_csv(path)
    summary = import_table(path)
    assert summary.rows["item_results"] == len(FAMILIES) * 2 * len(BENCHMARKS) * N_ITEMS
    assert summary.rows["runs"] == len(FAMILIES) * 2
    lake_accuracy = _lake_accuracy(data_dir)
    for benchmark in BENCHMARKS:
        expected = {}
        for stage in ("pretrain", "sft"):
            expected[stage] = [
                frame.filter(
                    (pl.col("unit") == family)
                    & (pl.col("stage") == stage)
                    & (pl.col("benchmark") == benchmark)
                )["is_correct"].mean()
                for family in FAMILIES
            ]
        pt = [lake_accuracy[(family, "pretrain", benchmark)] for family in FAMILIES]
        sft = [lake_accuracy[(family, "sft", benchmark)] for family in FAMILIES]
        assert pt == pytest.approx(expected["pretrain"], abs=1e-12)
        assert sft == pytest.approx(expected["sft"], abs=1e-12)
        pearson = _lake_corr(data_dir, benchmark, "corr")
        spearman = _lake_spearman(data_dir, benchmark)
        assert pearson == pytest.approx(
            stats.pearsonr(expected["pretrain"], expected["sft"])[0], abs=1e-9
        )
        assert spearman == pytest.approx(
            stats.spearmanr(expected["pretrain"], expected["sft"])[0], abs=1e-9
        )


def _per_run_sql(data_dir: Path) -> str:
    return f"""
        select mixture as unit, stage, benchmark, avg(case when is_correct then 1.0 else 0.0 end)
            as accuracy
        from read_parquet('{data_dir}/lake/item_results/**/*.parquet',
                          hive_partitioning = true, hive_types_autocast = false)
        group by all"""


def _lake_accuracy(data_dir: Path) -> dict:
    rows = duckdb.sql(_per_run_sql(data_dir)).fetchall()
    return {(unit, stage, benchmark): accuracy for unit, stage, benchmark, accuracy in rows}


def _paired(data_dir: Path, benchmark: str) -> str:
    return f"""
        with per_run as ({_per_run_sql(data_dir)}),
        paired as (
            select pt.unit, pt.accuracy as pt, sft.accuracy as sft
            from per_run as pt join per_run as sft using (unit, benchmark)
            where pt.stage = 'pretrain' and sft.stage = 'sft' and pt.benchmark = '{benchmark}')"""


def _lake_corr(data_dir: Path, benchmark: str, function: str) -> float:
    return duckdb.sql(
        f"{_paired(data_dir, benchmark)} select {function}(pt, sft) from paired"
    ).fetchall()[0][0]


def _lake_spearman(data_dir: Path, benchmark: str) -> float:
    sql = f"""{_paired(data_dir, benchmark)},
        ranked as (select rank() over (order by pt) + (count(*) over (partition by pt) - 1) / 2.0 as r_pt,
                          rank() over (order by sft) + (count(*) over (partition by sft) - 1) / 2.0 as r_sft
                   from paired)
        select corr(r_pt, r_sft) from ranked"""
    return duckdb.sql(sql).fetchall()[0][0]


def test_table_rows_follow_the_item_results_contract(tmp_path, data_dir):
    path = tmp_path / "results.parquet"
    family_table().write_parquet(path)
    import_table(path)
    leaf = lake.item_results_path("7B", "llama", 0, "pretrain", "piqa", 0)
    assert pq.read_schema(leaf).equals(schemas.ITEM_RESULTS)
    rows = pq.read_table(leaf).to_pylist()
    assert len(rows) == N_ITEMS
    assert {row["category"] for row in rows} == {"commonsense"}  # from configs/benchmarks/piqa.yaml
    assert sum(row["confidence"] is None for row in rows) == N_ITEMS // 2  # optional -> NULL
    run = pq.read_table(lake.runs_path("llama", "sft")).to_pylist()[0]
    assert (run["origin"], run["mixture"], run["scale"]) == ("import", "llama", "7B")
    assert run["n_params_nominal"] == 7_000_000_000


BAD_CSV = """run_id,stage,unit,scale,benchmark,item_id,is_correct,confidence,category
m1,pretrain,fam,7B,arc_easy,a1,true,0.5,
m1,pretrain,fam,7B,arc_easy,a1,false,0.5,
m1,pretrain,fam,7B,arc_easy,a2,maybe,0.5,
m1,pretrain,fam,7B,arc_easy,a3,1,75,
m1,pretrain,other,7B,arc_easy,a4,0,,
m1,base,fam,7B,arc_easy,a5,0,,
m1,pretrain,fam,7B,Arc-Easy,a6,0,,
m1,pretrain,fam,7B,my_bench,a7,0,,science
m1,pretrain,fam,7B,my_bench,a8,0,,nli
"""


def test_bad_rows_are_reported_with_line_and_nothing_is_written(tmp_path, data_dir):
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV)
    with pytest.raises(ImportFailed) as caught:
        import_table(path)
    message = str(caught.value)
    assert f"{path}:3: duplicate row" in message
    assert f"first seen at {path}:2" in message
    assert f"{path}:4: is_correct='maybe' is not a boolean" in message
    assert f"{path}:5: confidence='75' is outside [0, 1]" in message
    assert f"{path}:6: run 'm1' stage 'pretrain' has scale=7B unit=other" in message
    assert f"{path}:7: stage='base' must be one of pretrain, sft" in message
    assert f"{path}:8: benchmark='Arc-Easy' is not a slug" in message
    assert f"{path}:10: benchmark 'my_bench' has category 'nli' here but 'science'" in message
    assert len(caught.value.problems) == 7
    assert not (data_dir / "lake").exists()


def test_missing_columns_are_named(tmp_path, data_dir):
    path = tmp_path / "short.csv"
    path.write_text("run_id,stage,benchmark,item_id,is_correct,accuracy\nm,sft,piqa,1,1,1\n")
    with pytest.raises(
        ImportFailed, match=r"missing \['unit', 'scale or group'\], unexpected \['accuracy'\]"
    ):
        import_table(path)


def test_a_partition_holds_predictions_or_item_results_never_both(tmp_path, data_dir):
    leaf = lake.predictions_path("7B", "fam", 0, "sft", "piqa", 0)
    leaf.parent.mkdir(parents=True)
    leaf.write_bytes(b"")
    path = tmp_path / "one.csv"
    path.write_text("run_id,stage,unit,scale,benchmark,item_id,is_correct\nm,sft,fam,7B,piqa,1,1\n")
    with pytest.raises(ImportFailed, match="already holds predictions for this partition"):
        import_table(path)
