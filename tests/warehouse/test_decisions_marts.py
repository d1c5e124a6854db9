"""Decision-statistics marts against tests/warehouse/reference_decisions.py on the noisy lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.warehouse import reference_decisions as ref
from tests.warehouse.conftest import BuiltLake, assert_matches
from tests.warehouse.reference import load_benchmark_configs
from warehouse.build import build
from warehouse.synthetic import (
    BENCHMARKS,
    SCALES,
    ZERO_VARIANCE_BENCHMARK,
    write_synthetic_lake,
)
from warehouse.synthetic_noise import NoiseSpec


@pytest.fixture(scope="module")
def noisy_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltLake, dict]:
    """A built noisy lake (3 seeds, 2 checkpoints) and its reference scores at the final step."""
    base: Path = tmp_path_factory.mktemp("noisy_marts")
    lake = write_synthetic_lake(
        base / "data", base / "configs", n_items=16, noise=NoiseSpec(n_checkpoints=2, n_seeds=3)
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XSTAGE_CONFIG_DIR", str(base / "configs"))
        result = build(root=base / "data")
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
