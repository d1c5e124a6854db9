"""Benchmarks without a config (issue 14): imported category and choice count stand in for it.

`xstage import table` of benchmarks that have no configs/benchmarks/<id>.yaml: the rows'
category (else `uncategorized`) and n_choices (chance = 1/n_choices) reach every mart, and the
build is green.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from importers.batch import ImportFailed
from importers.table import import_table

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

FAMILIES = ["Llama-3-8B", "qwen2.5-7b", "gemma-2-9b", "OLMo-2-7B"]
HEADER = "run_id,stage,unit,scale,benchmark,item_id,is_correct,category,n_choices\n"


def unconfigured_table(path, seed: int = 5):
    """4 families x 2 stages x 3 unconfigured benchmarks x 20 items; returns expected accuracy."""
    rng = np.random.default_rng(seed)
    lines, expected = [HEADER], {}
    benchmarks = {"logic_a": ("reasoning", 4), "logic_b": ("reasoning", 4), "odd_one": ("", "")}
    for family in FAMILIES:
        for stage in ("pretrain", "sft"):
            for benchmark, (category, n_choices) in benchmarks.items():
                correct = rng.random(20) < rng.uniform(0.3, 0.9)
                expected[(family, stage, benchmark)] = correct.mean()
                for i, ok in enumerate(correct):
                    row = (
                        f"{family},{stage},{family},7B,{benchmark},q{i},{ok},{category},{n_choices}"
                    )
                    lines.append(row + "\n")
    path.write_text("".join(lines))
    return expected


def test_unconfigured_benchmarks_take_the_imported_category_and_chance(tmp_path, data_dir):
    from warehouse.build import build

    expected = unconfigured_table(tmp_path / "t.csv")
    import_table(tmp_path / "t.csv")
    result = build()
    with duckdb.connect(str(result.path), read_only=True) as con:
        dims = con.execute(
            "select benchmark, category, chance_accuracy, has_config from marts.dim_benchmarks "
            "where benchmark in ('logic_a', 'logic_b', 'odd_one') order by benchmark"
        ).fetchall()
        scores = con.execute(
            "select run_id, stage, benchmark, category, accuracy, accuracy_chance_normalized "
            "from marts.fct_benchmark_scores where length_normalization = 'none'"
        ).fetchall()
        categories = con.execute(
            "select distinct category from marts.fct_category_scores order by 1"
        ).fetchall()
    assert dims == [
        ("logic_a", "reasoning", 0.25, False),
        ("logic_b", "reasoning", 0.25, False),
        ("odd_one", "uncategorized", None, False),
    ]
    assert len(scores) == len(expected)
    for run_id, stage, benchmark, category, accuracy, normalized in scores:
        assert accuracy == pytest.approx(expected[(run_id, stage, benchmark)], abs=1e-12)
        assert category == ("uncategorized" if benchmark == "odd_one" else "reasoning")
        if benchmark != "odd_one":
            assert normalized == pytest.approx((accuracy - 0.25) / 0.75, abs=1e-12)
    assert ("reasoning",) in categories


def test_predicted_index_must_fit_the_choice_count(tmp_path, data_dir):
    path = tmp_path / "t.csv"
    path.write_text(
        "run_id,stage,unit,scale,benchmark,item_id,is_correct,predicted_index,n_choices\n"
        "m,pretrain,m,7B,logic_a,q0,true,4,4\n"
        "m,pretrain,m,7B,logic_a,q1,true,0,1\n"
        "m,pretrain,m,7B,logic_a,q2,true,0,99999\n"
    )
    with pytest.raises(ImportFailed) as info:
        import_table(path)
    message = str(info.value)
    assert f"{path}:2: predicted_index=4 is outside 0..3 (n_choices)" in message
    assert "2 rows: n_choices=... is outside 2..32767 (first rows: " in message
    assert f"{path}:3, {path}:4; first: n_choices='1' is outside 2..32767)" in message
