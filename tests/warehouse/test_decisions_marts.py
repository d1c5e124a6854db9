"""Decision-statistics marts against tests/warehouse/reference_decisions.py on the noisy lake."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from tests.warehouse import reference_bootstrap as refb
from tests.warehouse import reference_decisions as ref
from tests.warehouse.conftest import BuiltLake, assert_matches, close
from tests.warehouse.reference import load_benchmark_configs
from warehouse import queries, report_decisions, slices
from warehouse.build import build
from warehouse.report_sections import Context
from warehouse.synthetic import (
    BENCHMARKS,
    SCALES,
    ZERO_VARIANCE_BENCHMARK,
    write_synthetic_lake,
)
from warehouse.synthetic_noise import NoiseSpec

pytestmark = [pytest.mark.dbt, pytest.mark.slow]  # a dbt build of the noisy lake (~2 min)

BOOTSTRAP_SEED = 20260226  # dbt_project.yml's default decision_bootstrap_seed
VARS = {"last_checkpoints": 2, "decision_bootstrap_resamples": 200}


@pytest.fixture(scope="module")
def noisy_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltLake, dict]:
    """A built noisy lake (3 seeds, 2 checkpoints read) and its reference scores at the final step."""
    base: Path = tmp_path_factory.mktemp("noisy_marts")
    lake = write_synthetic_lake(
        base / "data", base / "configs", n_items=16, noise=NoiseSpec(n_checkpoints=2, n_seeds=3)
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XSTAGE_CONFIG_DIR", str(base / "configs"))
        result = build(root=base / "data", dbt_vars=VARS)
    scores = ref.checkpoint_scores(base / "data")
    final_step = {}
    for key in scores:
        final_step[key[:5]] = max(final_step.get(key[:5], -1), key[5])
    final = {(*k[:5], k[6]): v for k, v in scores.items() if k[5] == final_step[k[:5]]}
    return BuiltLake(lake=lake, result=result), final


def test_seed_agreement_matches_reference(noisy_lake: tuple[BuiltLake, dict]) -> None:
    built, final = noisy_lake
    expected = {}
    for metric in ref.METRICS:
        for (scale, benchmark, norm), row in ref.seed_agreement(final, metric).items():
            expected[(scale, benchmark, metric, norm)] = row
    columns = ["n_units", "n_seeds", "n_seeds_defined", "r_seed_mean", "p_seed_mean",
               "r_seed_min", "r_seed_max", "sign_agreement", "significance_agreement",
               "seed_std"]  # fmt: skip
    compared = assert_matches(
        built.rows("select * from marts.fct_seed_agreement"),
        expected,
        ["scale", "benchmark", "metric", "length_normalization"],
        {c: c for c in columns},
    )
    assert compared >= 2 * 12 * 4 * 4 * len(columns)
    defined = [r for r in expected.values() if r["sign_agreement"] is not None]
    assert len(defined) > len(expected) / 2, "most rows must carry a defined agreement"


def test_best_pt_metric_matches_reference(noisy_lake: tuple[BuiltLake, dict]) -> None:
    built, final = noisy_lake
    _, primary = load_benchmark_configs(built.lake.config_dir)
    expected = ref.best_pt_table(final, primary)
    columns = ["n_agree", "n_disagree", "n_tied", "decision_accuracy", "is_best"]
    assert_matches(
        built.rows("select * from marts.fct_best_pt_metric"),
        expected,
        ["scale", "benchmark", "metric", "length_normalization"],
        {c: c for c in columns},
    )
    # one best candidate per scale x benchmark, none for sem_zero (its SFT scores all tie), and
    # 6 mixtures make 15 pairs per candidate
    bests = {(k[0], k[1]) for k, row in expected.items() if row["is_best"]}
    assert bests == {(s, b) for s in SCALES for b in BENCHMARKS if b != ZERO_VARIANCE_BENCHMARK}
    assert all(sum(row[c] for c in columns[:3]) == 15 for row in expected.values())


def test_checkpoint_noise_matches_reference(noisy_lake: tuple[BuiltLake, dict]) -> None:
    built, _ = noisy_lake
    expected = ref.signal_noise(ref.checkpoint_scores(built.root), last_n=2)
    compared = assert_matches(
        built.rows("select * from marts.fct_checkpoint_noise"),
        expected,
        ["scale", "stage", "benchmark", "metric", "length_normalization"],
        {"signal": "signal", "noise": "noise", "snr": "snr"},
    )
    assert compared == len(expected) * 3
    defined = [row for row in expected.values() if row["snr"] is not None]
    assert len(defined) > len(expected) * 0.9, (
        "two checkpoints give a defined SNR almost everywhere"
    )


@pytest.mark.parametrize("metric", ["accuracy", "confidence", "prob_gold", "nll"])
def test_known_high_snr_benchmark_ranks_above_known_low_in_the_mart(
    noisy_lake: tuple[BuiltLake, dict], metric: str
) -> None:
    built, _ = noisy_lake
    spec = NoiseSpec()
    # no checkpoint noise at all (accuracy of cs_one: its checkpoints flip no item) is the best
    rows = built.rows(
        "select scale, stage, benchmark, rank() over (partition by scale, stage order by"
        " coalesce(snr, case when noise = 0 and signal > 0 then 'infinity'::double end) desc"
        " nulls last) as snr_rank from marts.fct_checkpoint_noise"
        f" where metric = '{metric}' and length_normalization = 'none'"
    )
    rank = {(r["scale"], r["stage"], r["benchmark"]): r["snr_rank"] for r in rows}
    for scale in SCALES:
        for stage in ("pretrain", "sft"):
            high, low = rank[(scale, stage, spec.high_snr)], rank[(scale, stage, spec.low_snr)]
            assert high < low, (scale, stage, metric, high, low)


def test_checkpoint_scores_keep_the_last_two_checkpoints(
    noisy_lake: tuple[BuiltLake, dict],
) -> None:
    built, _ = noisy_lake
    scores = ref.checkpoint_scores(built.root)
    expected = {}
    for (scale, mixture, seed, stage, benchmark, step, norm), row in scores.items():
        expected[(f"{scale}__{mixture}__seed{seed}", stage, benchmark, step, norm)] = {
            "accuracy": row["accuracy"], "mean_confidence": row["confidence"],
            "mean_prob_gold": row["prob_gold"], "nll": row["nll"],
        }  # fmt: skip
    assert_matches(
        built.rows("select * from marts.fct_checkpoint_scores"),
        expected,
        ["run_id", "stage", "benchmark", "checkpoint_step", "length_normalization"],
        {c: c for c in ["accuracy", "mean_confidence", "mean_prob_gold", "nll"]},
    )


def test_checkpoint_average_option_feeds_the_correlation_marts(
    noisy_lake: tuple[BuiltLake, dict], tmp_path: Path
) -> None:
    """With var checkpoint_average, fct_unit_scores holds the mean over seeds of each run's mean
    over its last two checkpoints (the default build holds the latest checkpoint only)."""
    built, _ = noisy_lake
    data = tmp_path / "data"
    shutil.copytree(built.root / "lake", data / "lake")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XSTAGE_CONFIG_DIR", str(built.lake.config_dir))
        result = build(root=data, dbt_vars={"last_checkpoints": 2, "checkpoint_average": True})
    runs: dict = defaultdict(list)
    for (scale, mixture, _seed, stage, benchmark, _step, norm), row in ref.checkpoint_scores(
        data
    ).items():
        runs[(scale, mixture, stage, benchmark, norm)].append(row)
    expected = {}
    for key, rows in runs.items():
        for metric in ("accuracy", "confidence"):
            # equal checkpoints per seed: the mean over seeds of checkpoint means is the mean
            expected[(*key, metric)] = {"value": sum(r[metric] for r in rows) / len(rows)}
    with duckdb.connect(str(result.path), read_only=True) as con:
        cursor = con.execute("select * from marts.fct_unit_scores")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    compared = assert_matches(
        rows,
        expected,
        ["scale", "mixture", "stage", "benchmark", "length_normalization", "metric"],
        {"value": "value"},
    )
    assert compared == len(expected)
    latest = {
        (r["scale"], r["mixture"], r["stage"], r["benchmark"], r["length_normalization"],
         r["metric"]): r["value"]
        for r in built.rows("select * from marts.fct_unit_scores")
    }  # fmt: skip
    moved = sum(abs(latest[k] - v["value"]) > 1e-6 for k, v in expected.items())
    assert moved > len(expected) / 2, "averaging two checkpoints must change most unit scores"


def test_decision_accuracy_matches_reference(noisy_lake: tuple[BuiltLake, dict]) -> None:
    built, final = noisy_lake
    _, primary = load_benchmark_configs(built.lake.config_dir)
    expected = ref.decision_accuracy_table(final, BENCHMARKS, primary, SCALES)
    keys = ["comparison", "scale_a", "stage_a", "scale_b", "stage_b", "level", "subject",
            "metric", "length_normalization"]  # fmt: skip
    columns = ["n_agree", "n_disagree", "n_tied", "decision_accuracy"]
    rows = built.rows("select * from marts.fct_decision_accuracy")
    assert_matches(rows, expected, keys, {c: c for c in columns})
    comparisons = {(k[0], k[5]) for k in expected}
    assert comparisons == {(c, lv) for c in ("pretrain_vs_sft", "scale_vs_scale")
                           for lv in ("benchmark", "category")}  # fmt: skip
    # 6 mixtures: 15 pairs in every row
    assert all(sum(row[c] for c in columns[:3]) == 15 for row in expected.values())
    # accuracy and confidence: the existing ranking-agreement mart says the same
    agreement = {
        tuple(r[k] for k in keys): r["pairwise_agreement"]
        for r in built.rows("select * from marts.fct_ranking_agreement")
    }
    shared = [k for k in expected if k[7] in ("accuracy", "confidence")]
    assert shared
    assert all(close(agreement[k], expected[k]["decision_accuracy"]) for k in shared)


def test_transfer_uncertainty_matches_reference(noisy_lake: tuple[BuiltLake, dict]) -> None:
    built, _ = noisy_lake
    _, primary = load_benchmark_configs(built.lake.config_dir)
    values = refb.item_values(built.root, primary)
    resamples = VARS["decision_bootstrap_resamples"]
    intervals = refb.transfer_intervals(values, BENCHMARKS, SCALES, BOOTSTRAP_SEED, resamples)
    expected = {(k[1], *k[5:]): row for k, row in intervals.items() if k[0] == "pretrain_vs_sft"}
    columns = ["n_mixtures", "n_items", "r", "r_boot_low", "r_boot_high", "n_r_resamples",
               "decision_accuracy", "decision_accuracy_boot_low", "decision_accuracy_boot_high",
               "n_decision_resamples"]  # fmt: skip
    rows = built.rows("select * from marts.fct_transfer_uncertainty")
    assert_matches(rows, expected, ["scale", "level", "subject", "metric"], {c: c for c in columns})
    assert len(expected) == len(SCALES) * (len(BENCHMARKS) + 4) * 4
    # beside the Fisher-z interval of the same r (fct_cross_stage_transfer, primary, Pearson)
    transfer = {
        (r["scale"], r["benchmark"], r["metric"]): r
        for r in built.rows(
            "select * from marts.fct_cross_stage_transfer"
            " where method = 'pearson' and is_primary_normalization"
        )
    }
    benchmark_rows = [
        r for r in rows if r["level"] == "benchmark" and r["metric"] in ("accuracy", "confidence")
    ]
    assert benchmark_rows
    for row in benchmark_rows:
        other = transfer[(row["scale"], row["subject"], row["metric"])]
        for mine, theirs in (("r", "r"), ("r_fisher_low", "ci_low"), ("r_fisher_high", "ci_high")):
            assert close(row[mine], other[theirs], 1e-9), (row["subject"], mine)
    widths = [r["r_boot_width"] for r in rows if r["r_boot_width"] is not None]
    assert len(widths) > len(rows) / 2
    assert all(w > 0 for w in widths)


def test_decision_accuracy_intervals_match_reference(noisy_lake: tuple[BuiltLake, dict]) -> None:
    """Both comparisons (PT -> SFT and small -> large) carry the item-bootstrap interval of
    decision accuracy at the primary selection; its point estimate is the mart's own."""
    built, _ = noisy_lake
    _, primary = load_benchmark_configs(built.lake.config_dir)
    values = refb.item_values(built.root, primary)
    resamples = VARS["decision_bootstrap_resamples"]
    intervals = refb.transfer_intervals(values, BENCHMARKS, SCALES, BOOTSTRAP_SEED, resamples)
    keys = ["comparison", "scale_a", "stage_a", "scale_b", "stage_b", "level", "subject", "metric"]
    rows = built.rows("select * from marts.fct_decision_accuracy where is_primary_normalization")
    columns = ["decision_accuracy", "decision_accuracy_boot_low", "decision_accuracy_boot_high",
               "n_decision_resamples"]  # fmt: skip
    compared = assert_matches(rows, intervals, keys, {c: c for c in columns})
    # PT -> SFT per scale, small -> large per stage: benchmarks and 4 categories, 4 metrics each
    assert len(intervals) == (len(SCALES) + 2) * (len(BENCHMARKS) + 4) * 4
    assert compared == len(intervals) * len(columns)
    small_to_large = [r for r in rows if r["comparison"] == "scale_vs_scale"]
    assert small_to_large
    assert all(r["n_decision_resamples"] == resamples for r in small_to_large
               if r["subject"] != ZERO_VARIANCE_BENCHMARK)  # fmt: skip
    others = built.rows(
        "select n_decision_resamples from marts.fct_decision_accuracy"
        " where not is_primary_normalization"
    )
    assert others
    assert all(r["n_decision_resamples"] is None for r in others)


def test_slices_and_named_queries_expose_the_new_marts(noisy_lake: tuple[BuiltLake, dict]) -> None:
    built, _ = noisy_lake
    database = built.result.path
    noise = slices.checkpoint_noise(metric="nll", stage="sft", database=database)
    assert noise.height == len(SCALES) * len(BENCHMARKS)
    mart = built.rows(
        "select noise.scale, noise.benchmark, noise.snr from marts.fct_checkpoint_noise as noise"
        " inner join marts.dim_benchmarks using (benchmark) where noise.metric = 'nll'"
        " and noise.stage = 'sft' and noise.length_normalization = primary_normalization"
    )
    assert {(r["scale"], r["benchmark"]): r["snr"] for r in mart} == {
        (r["scale"], r["benchmark"]): r["snr"] for r in noise.iter_rows(named=True)
    }
    accuracy = slices.decision_accuracy(
        "scale_vs_scale", "category", "prob_gold", database=database
    )
    assert accuracy.height == 2 * 4  # two stages x four categories, primary selection
    assert accuracy["length_normalization"].null_count() == accuracy.height
    uncertainty = slices.transfer_uncertainty(
        metric="accuracy", level="category", database=database
    )
    assert uncertainty.height == len(SCALES) * 4
    with pytest.raises(ValueError, match="metric='brier'"):
        slices.checkpoint_noise(metric="brier", database=database)
    for name in ("checkpoint_noise", "decision_accuracy", "transfer_trust"):
        assert queries.run_named(name, {}, database).height > 0, name


def _trust_order(row: dict) -> tuple:
    inf = float("inf")
    snr = row["snr_min"] if row["snr_min"] is not None else -inf
    width = row["r_boot_width"] if row["r_boot_width"] is not None else inf
    return (not row["boot_excludes_zero"], -snr, width, row["benchmark"])


def test_trust_ranking_follows_its_rule(noisy_lake: tuple[BuiltLake, dict]) -> None:
    """transfer_trust: bootstrap interval of r excluding 0 first, then the smaller SNR, then the
    narrower interval; the report section shows it."""
    built, _ = noisy_lake
    trust = queries.run_named("transfer_trust", {"metric": "accuracy"}, built.result.path)
    for scale in SCALES:
        rows = [r for r in trust.iter_rows(named=True) if r["scale"] == scale]
        assert [r["trust_rank"] for r in rows] == list(range(1, len(BENCHMARKS) + 1))
        assert rows == sorted(rows, key=_trust_order)
        snr = {r["benchmark"]: r["snr_min"] for r in rows}
        assert snr[NoiseSpec().high_snr] > snr[NoiseSpec().low_snr]
    with duckdb.connect(str(built.result.path), read_only=True) as con:
        context = Context(con=con, out_dir=built.root, scales=list(SCALES), study="noisy")
        anchor, title, body = report_decisions.trust_section(context)
    assert (anchor, title) == ("trust", "Which transfer signals to trust")
    assert "B = 200 item resamples" in body
    assert body.count("<tr") > len(SCALES) * len(BENCHMARKS)
