"""Every mart value of a built generated lake equals the numpy/scipy reference within 1e-9."""

from __future__ import annotations

import pytest

from tests.warehouse import reference as ref
from tests.warehouse.conftest import BuiltLake, assert_matches
from warehouse import synthetic

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

CORR = {"n": "n", "r": "r", "p_value": "p_value", "ci_low": "ci_low", "ci_high": "ci_high",
        "q_value": "q_value"}  # fmt: skip
CATEGORIES = synthetic.BENCHMARKS


@pytest.fixture(scope="module")
def expected(built_lake: BuiltLake) -> dict:
    """The reference marts, computed once from the lake files."""
    root, configs = built_lake.root, built_lake.lake.config_dir
    out = {"items": ref.item_predictions(root)}
    chance, primary = ref.load_benchmark_configs(configs)
    out["scores"] = ref.benchmark_scores(out["items"], chance, primary)
    out["primary"] = primary
    out["values"] = ref.unit_values(out["scores"])
    selected = ref.with_primary_selection(out["values"], primary, 3, 4)
    out["transfer"] = ref.cross_stage(out["values"])
    out["pairs"] = ref.pair_correlations(selected, CATEGORIES)
    out["by_mixture"] = ref.alignment_by_mixture(selected, CATEGORIES)
    out["by_benchmark"] = ref.alignment_by_benchmark(out["values"])
    out["mixtures"] = ref.load_mixture_configs(configs)
    return out


def test_item_predictions_match_scipy_softmax(built_lake: BuiltLake, expected: dict) -> None:
    rows = built_lake.rows("select * from marts.fct_item_predictions")
    keys = ["scale", "mixture", "seed", "stage", "benchmark", "item_id", "length_normalization"]
    columns = {c: c for c in ["predicted_index", "n_tied_at_max", "confidence", "prob_gold", "margin",
                              "entropy_nats", "brier", "nll", "is_correct", "gold_index"]}  # fmt: skip
    assert assert_matches(rows, expected["items"], keys, columns) > 50_000
    assert any(row["n_tied_at_max"] == 2 for row in rows), "the generated ties must show"
    assert {row["length_normalization"] for row in rows if row["benchmark"] != "sci_one"} == {
        "none", "per_token", "per_char", "per_byte"}  # fmt: skip


def test_latest_checkpoint_only(built_lake: BuiltLake) -> None:
    steps = built_lake.rows(
        "select distinct stage, checkpoint_step from marts.fct_benchmark_scores"
    )
    assert {(r["stage"], r["checkpoint_step"]) for r in steps} == set(synthetic.CHECKPOINTS.items())


def test_benchmark_scores_ece_auroc_bootstrap(built_lake: BuiltLake, expected: dict) -> None:
    rows = built_lake.rows("select * from marts.fct_benchmark_scores")
    keys = ["scale", "mixture", "seed", "stage", "benchmark", "length_normalization"]
    columns = {c: c for c in next(iter(expected["scores"].values()))}
    assert assert_matches(rows, expected["scores"], keys, columns) > 10_000


def test_cross_stage_transfer_matches_scipy(built_lake: BuiltLake, expected: dict) -> None:
    rows = built_lake.rows("select * from marts.fct_cross_stage_transfer")
    keys = ["scale", "benchmark", "metric", "length_normalization", "method"]
    assert_matches(rows, expected["transfer"], keys, CORR)
    zero = [r for r in rows if r["benchmark"] == synthetic.ZERO_VARIANCE_BENCHMARK
            and r["metric"] == "accuracy"]  # fmt: skip
    assert zero
    assert all(r["r"] is None and r["p_value"] is None for r in zero)


def test_category_transfer_is_mean_of_benchmarks(built_lake: BuiltLake, expected: dict) -> None:
    rows = built_lake.rows("select * from marts.fct_category_transfer")
    keys = ["scale", "category", "metric", "length_normalization", "method"]
    reference = ref.category_transfer(expected["transfer"], CATEGORIES, expected["primary"])
    assert_matches(rows, reference, keys, {"n_benchmarks": "n_benchmarks", "mean_r": "mean_r"})


def test_pair_correlations_and_coherence(built_lake: BuiltLake, expected: dict) -> None:
    rows = built_lake.rows("select * from marts.fct_benchmark_pair_correlations")
    keys = [
        "scale",
        "metric",
        "length_normalization",
        "kind",
        "benchmark_a",
        "benchmark_b",
        "method",
    ]
    assert_matches(rows, expected["pairs"], keys, CORR)
    intra, per_benchmark = ref.coherence(expected["pairs"], CATEGORIES)
    summary = {"n_pairs": "n_pairs", "mean_r": "mean_r"}
    rows = built_lake.rows("select * from marts.fct_intra_category_coherence")
    keys = ["scale", "category", "metric", "kind", "length_normalization", "method"]
    assert_matches(rows, intra, keys, summary)
    rows = built_lake.rows("select * from marts.fct_benchmark_coherence")
    keys = ["scale", "benchmark", "metric", "kind", "length_normalization", "method"]
    assert_matches(rows, per_benchmark, keys, summary)


def test_alignment_marts(built_lake: BuiltLake, expected: dict) -> None:
    inference = {c: c for c in ["p_value", "ci_low", "ci_high", "q_value"]}
    rows = built_lake.rows("select * from marts.fct_alignment_by_mixture")
    keys = ["scale", "stage", "mixture", "category", "length_normalization", "method"]
    columns = {"n_benchmarks": "n", "r_align": "r", **inference}
    assert_matches(rows, expected["by_mixture"], keys, columns)
    rows = built_lake.rows("select * from marts.fct_alignment_by_benchmark")
    keys = ["scale", "stage", "benchmark", "length_normalization", "method"]
    columns = {"n_mixtures": "n", "r_align": "r", **inference}
    assert_matches(rows, expected["by_benchmark"], keys, columns)
    rows = built_lake.rows("select * from marts.fct_alignment")
    keys = ["scale", "stage", "category", "variant", "length_normalization", "method"]
    summary = ref.alignment_summary(
        expected["by_mixture"], expected["by_benchmark"], CATEGORIES, expected["primary"]
    )
    assert_matches(
        rows, summary, keys, {"n": "n", "r_align": "r_align", "r_align_sd": "r_align_sd"}
    )
    rows = built_lake.rows("select * from marts.fct_alignment_persistence")
    keys = ["scale", "category", "length_normalization", "method"]
    assert_matches(rows, ref.persistence(expected["by_mixture"]), keys, CORR)


def test_confidence_structure(built_lake: BuiltLake, expected: dict) -> None:
    rows = built_lake.rows("select * from marts.fct_confidence_structure")
    keys = ["scale", "metric", "length_normalization", "method"]
    columns = {**CORR, "n_pairs": "n"}
    del columns["n"]
    assert_matches(rows, ref.confidence_structure(expected["pairs"]), keys, columns)
    # Upper triangles of 12 benchmarks have 66 pairs; sem_zero's SFT entries are NULL (no
    # variance), which leaves the 55 pairs of the other 11.
    assert max(r["n_pairs"] for r in rows) == 11 * 10 // 2


def test_mixture_effects_and_web_contrasts(built_lake: BuiltLake, expected: dict) -> None:
    rows = built_lake.rows("select * from marts.fct_mixture_effects")
    keys = ["scale", "stage", "benchmark", "metric", "length_normalization", "method"]
    assert_matches(rows, ref.mixture_effects(expected["values"], expected["mixtures"]), keys, CORR)
    rows = built_lake.rows("select * from marts.fct_web_source_contrasts")
    keys = ["scale", "stage", "measure", "subject", "length_normalization", "source_a", "source_b"]
    reference = ref.web_source_contrasts(
        expected["values"], expected["by_mixture"], expected["mixtures"]
    )
    columns = {c: c for c in ["n_proportions", "mean_a", "mean_b", "difference"]}
    assert_matches(rows, reference, keys, columns)


def test_item_stage_flips(built_lake: BuiltLake, expected: dict) -> None:
    rows = built_lake.rows("select * from marts.fct_item_stage_flips")
    keys = ["scale", "mixture", "seed", "benchmark", "length_normalization"]
    reference = ref.item_flips(expected["items"])
    columns = {c: c for c in next(iter(reference.values()))}
    assert_matches(rows, reference, keys, columns)


def test_ranking_agreement_matches_kendalltau(built_lake: BuiltLake, expected: dict) -> None:
    rows = built_lake.rows("select * from marts.fct_ranking_agreement")
    keys = ["comparison", "scale_a", "stage_a", "scale_b", "stage_b", "level", "subject", "metric",
            "length_normalization"]  # fmt: skip
    reference = ref.ranking(expected["values"], CATEGORIES, ["tiny", "small"], expected["primary"])
    columns = {c: c for c in next(iter(reference.values()))}
    assert_matches(rows, reference, keys, columns)


def test_primary_normalization_is_a_flag_not_a_value(built_lake: BuiltLake, expected: dict) -> None:
    """Per-benchmark marts flag the benchmark's primary row; marts combining benchmarks add the
    primary selection with length_normalization NULL; no mart has a 'primary' value."""
    primary = expected["primary"]
    for table in ("fct_unit_scores", "fct_cross_stage_transfer", "fct_alignment_by_benchmark"):
        rows = built_lake.rows(
            f"select distinct benchmark, length_normalization, is_primary_normalization from marts.{table}"
        )
        assert rows
        for row in rows:
            expected_flag = row["length_normalization"] == primary[row["benchmark"]]
            assert row["is_primary_normalization"] == expected_flag, (table, row)
    for table in ("fct_alignment_by_mixture", "fct_benchmark_pair_correlations", "fct_alignment",
                  "fct_category_transfer", "fct_confidence_structure", "fct_ranking_agreement"):  # fmt: skip
        level = "where level = 'category'" if table == "fct_ranking_agreement" else ""
        rows = built_lake.rows(
            f"select distinct length_normalization, is_primary_normalization from marts.{table} {level}"
        )
        flags = {(r["length_normalization"], r["is_primary_normalization"]) for r in rows}
        assert (None, True) in flags, table
        assert all(flag == (norm is None) for norm, flag in flags), table
