"""The decision-statistics reference on hand cases, and the noisy generated lake's known structure."""

from __future__ import annotations

import numpy as np
import pyarrow.dataset as ds
import pytest

from tests.warehouse import reference_decisions as ref
from warehouse.synthetic import BENCHMARKS, MIXTURES, SCALES, write_synthetic_lake
from warehouse.synthetic_noise import NoiseSpec, checkpoint_steps


def test_signal_noise_snr_by_hand() -> None:
    # finals 0.4, 0.6 -> (0.6 - 0.4) / 0.5 = 0.4
    assert ref.signal([0.4, 0.6]) == pytest.approx(0.4, abs=1e-12)
    # series (1, 3): sd 1.4142.../mean 2 = 0.70710...; series (2, 2): 0 -> mean 0.353553...
    assert ref.noise([[1, 3], [2, 2]]) == pytest.approx(np.sqrt(2) / 4, abs=1e-12)
    assert ref.snr(0.4, np.sqrt(2) / 4) == pytest.approx(0.4 * 4 / np.sqrt(2), abs=1e-12)
    assert ref.noise([[1.0], [2.0]]) is None  # n < 2
    assert ref.snr(0.4, 0.0) is None


def test_decision_accuracy_counts_pairs_and_leaves_ties_out() -> None:
    # units a, b, c, d: source 1, 2, 3, 3; target 1, 3, 2, 4
    # pairs: ab agree, ac agree, ad agree, bc disagree, bd agree, cd tied in source -> 4 / 5
    result = ref.decision_accuracy([1, 2, 3, 3], [1, 3, 2, 4])
    assert result == {"n_agree": 4, "n_disagree": 1, "n_tied": 1, "decision_accuracy": 0.8}
    assert ref.decision_accuracy([1, 1], [1, 2])["decision_accuracy"] is None


def test_nll_is_oriented_lower_is_better() -> None:
    # nll 0.9 < 1.2: the first unit is the better one, as accuracy 0.7 > 0.5 says
    pt = {("nll", "none"): [0.9, 1.2, 1.5], ("accuracy", "none"): [0.5, 0.7, 0.6]}
    assert ref.best_pt_metric(pt, [0.7, 0.5, 0.3]) == (("nll", "none"), 1.0)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate() -> None:
    values = {"u1": [1, 0, 1, 1, 0, 1, 0, 1], "u2": [0, 0, 1, 0, 0, 1, 0, 0]}
    gap = lambda means: means["u1"] - means["u2"]  # noqa: E731
    first = ref.bootstrap_interval(values, gap, seed=7, resamples=200)
    assert first == ref.bootstrap_interval(values, gap, seed=7, resamples=200)
    assert first[0] <= 3 / 8 <= first[1]
    assert first != ref.bootstrap_interval(values, gap, seed=8, resamples=200)


@pytest.fixture(scope="module")
def noisy_scores(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, NoiseSpec]:
    spec = NoiseSpec(n_checkpoints=3, n_seeds=2)
    base = tmp_path_factory.mktemp("noisy")
    write_synthetic_lake(base / "data", base / "configs", n_items=24, noise=spec)
    return ref.checkpoint_scores(base / "data"), spec


@pytest.mark.slow  # the noisy lake's reference scores take ~20 s
def test_noisy_lake_has_the_promised_shape(noisy_scores: tuple[dict, NoiseSpec]) -> None:
    scores, spec = noisy_scores
    leaves = {key[:6] for key in scores}
    expected = len(SCALES) * len(MIXTURES) * spec.n_seeds * 2 * len(BENCHMARKS) * 3
    assert len(leaves) == expected
    assert checkpoint_steps("pretrain", 3) == [800, 900, 1000]
    assert {key[5] for key in leaves if key[3] == "sft"} == {160, 180, 200}


@pytest.mark.parametrize("metric", ["confidence", "prob_gold", "nll"])
@pytest.mark.slow
def test_known_high_snr_benchmark_ranks_above_known_low(
    noisy_scores: tuple[dict, NoiseSpec], metric: str
) -> None:
    scores, spec = noisy_scores
    table = ref.signal_noise(scores, last_n=spec.n_checkpoints)
    for scale in SCALES:
        for stage in ("pretrain", "sft"):
            high = table[(scale, stage, spec.high_snr, metric, "none")]["snr"]
            low = table[(scale, stage, spec.low_snr, metric, "none")]["snr"]
            assert high > low, (scale, stage, high, low)


def test_plain_lake_is_unchanged_without_noise(tmp_path) -> None:
    """The option is off by default: one checkpoint per run x stage, plus the known stale one."""
    write_synthetic_lake(tmp_path / "data", n_items=8)
    steps = ds.dataset(tmp_path / "data" / "lake" / "predictions", partitioning="hive")
    assert sorted(set(steps.to_table(columns=["checkpoint_step"])[0].to_pylist())) == [
        200, 500, 1000,
    ]  # fmt: skip


def test_seed_agreement_by_hand() -> None:
    # 4 mixtures x 2 seeds: seed 0 transfers perfectly (r = 1), seed 1 has flat PT scores;
    # seed 1 has no PT spread, so its r is NULL and the shares count seed 0 alone.
    pt = {0: [1, 2, 3, 4], 1: [2, 2, 2, 2.0]}
    sft = {0: [1, 2, 3, 4], 1: [4.0, 3.0, 2.0, 1.1]}
    final = {}
    for seed in (0, 1):
        for m in range(4):
            final[("s", f"m{m}", seed, "pretrain", "b", "none")] = {"accuracy": pt[seed][m]}
            final[("s", f"m{m}", seed, "sft", "b", "none")] = {"accuracy": sft[seed][m]}
    row = ref.seed_agreement(final, "accuracy")[("s", "b", "none")]
    assert row["n_seeds"] == 2
    assert row["r_per_seed"][0] == pytest.approx(1.0)
    assert row["r_per_seed"][1] is None  # seed 1's PT has no spread
    assert row["n_seeds_defined"] == 1
    assert row["sign_agreement"] == 1.0  # seed 0's r = 1 has the seed-mean r's sign (positive)
    # seed std of mixture m0 at PT: values 1 and 2 -> 0.7071...; the mean over 8 cells by hand
    cells = [(1, 2), (2, 2), (3, 2), (4, 2), (1, 4), (2, 3), (3, 2), (4, 1.1)]
    expected = np.mean([abs(a - b) / np.sqrt(2) for a, b in cells])
    assert row["seed_std"] == pytest.approx(expected, abs=1e-12)
