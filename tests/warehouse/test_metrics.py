"""warehouse.metrics against hand-computed cases and scipy (no dbt)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from warehouse import metrics
from warehouse.dbt_plugin import r_pvalue


def test_softmax_survives_underflow_and_breaks_ties_low() -> None:
    score = metrics.item_score(np.array([-5000.0, -10.0, -10.0]), gold_index=2)
    assert score.predicted_index == 1
    assert score.n_tied_at_max == 2
    assert score.confidence == pytest.approx(0.5)
    assert score.prob_gold == pytest.approx(0.5)
    assert score.margin == pytest.approx(0.0)
    assert score.entropy_nats == pytest.approx(math.log(2))
    assert score.brier == pytest.approx(0.25 + 0.25 + 1 - 1)  # (0.5-1)^2 + 0.5^2 + 0^2
    assert score.nll == pytest.approx(math.log(2))


def test_normalizations_divide_by_length_and_pmi_needs_every_choice() -> None:
    lengths = {"n_tokens": [2, 4], "n_chars": [8, 2], "n_bytes": [8, 4]}
    logprob = [-8.0, -8.0]
    expected = {"none": [-8, -8], "per_token": [-4, -2], "per_char": [-1, -4], "per_byte": [-1, -2]}
    for norm, want in expected.items():
        got = metrics.normalized_scores(norm, logprob, **lengths)
        assert got.tolist() == want
    assert metrics.normalized_scores("pmi", logprob, **lengths, logprob_uncond=[-1.0, None]) is None
    pmi = metrics.normalized_scores("pmi", logprob, **lengths, logprob_uncond=[-2.0, -6.0])
    assert pmi.tolist() == [-6.0, -2.0]


def test_ece_hand_computed() -> None:
    confidence = [0.0, 0.5, 0.5, 1.0]
    correct = [0, 1, 0, 1]
    # equal width: bins 0 (gap 0), 7 (acc .5 conf .5), 14 (gap 0) -> 0
    assert metrics.ece_equal_width(confidence, correct) == 0.0
    # equal mass (4 items, ntile 10 -> one item per bin): gaps 0, .5, .5, 0 -> 0.25
    assert metrics.ece_equal_mass(confidence, correct, ["a", "b", "c", "d"]) == 0.25
    # all items in one bin at 0.9 with accuracy 0.5 -> gap 0.4
    assert metrics.ece_equal_width([0.9] * 4, [1, 0, 1, 0]) == pytest.approx(0.4)


def test_equal_mass_bins_follow_ntile_with_item_id_ties() -> None:
    bins = metrics.equal_mass_bins([0.5] * 12, [f"i{k:02d}" for k in range(12)][::-1], n_bins=10)
    # ntile(10) of 12 rows: the first two buckets get 2 rows; order is by item_id on equal confidence
    assert sorted(bins.tolist()) == [0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert bins.tolist()[-1] == 0  # i00 is smallest


def test_auroc_equals_pairwise_count() -> None:
    rng = np.random.default_rng(3)
    confidence = np.round(rng.random(60), 1)  # many ties
    correct = rng.random(60) < 0.5
    pos, neg = confidence[correct], confidence[~correct]
    pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    assert metrics.auroc(confidence, correct) == pytest.approx(np.mean(pairs), abs=1e-12)
    assert metrics.auroc([0.2, 0.9], [True, True]) is None


def test_bootstrap_is_reproducible_and_brackets_the_mean() -> None:
    values = np.random.default_rng(0).random(50)
    low, high = metrics.bootstrap_ci(values)
    assert (low, high) == metrics.bootstrap_ci(values)
    assert low < values.mean() < high
    assert metrics.bootstrap_ci(values, seed=1) != (low, high)
    plan = metrics.bootstrap_plan(50)
    assert plan.shape == (metrics.BOOTSTRAP_RESAMPLES, 50)
    assert np.array_equal(
        plan, np.random.default_rng([metrics.BOOTSTRAP_SEED, 50]).integers(0, 50, (1000, 50))
    )


def test_correlation_matches_scipy_and_degenerate_rules() -> None:
    x = [0.1, 0.4, 0.35, 0.8, 0.6, 0.6]
    y = [0.2, 0.3, 0.5, 0.9, 0.4, 0.7]
    pearson = metrics.correlation(x, y, "pearson")
    reference = stats.pearsonr(x, y)
    ci = reference.confidence_interval(0.95)
    assert pearson["r"] == pytest.approx(reference.statistic, abs=1e-12)
    assert pearson["p_value"] == pytest.approx(reference.pvalue, abs=1e-12)
    assert (pearson["ci_low"], pearson["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    spearman = metrics.correlation(x, y, "spearman")
    assert spearman["r"] == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert metrics.correlation([1, 2], [2, 1])["r"] is None  # n < 3
    assert metrics.correlation([1, 2, 3], [5, 5, 5])["r"] is None  # zero variance
    three = metrics.correlation([1, 2, 3], [1, 3, 2])
    assert three["r"] is not None
    assert three["ci_low"] is None


def test_udf_pvalue_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    for n in (3, 4, 9, 18, 190):
        x = rng.normal(size=n)
        y = x + rng.normal(size=n)
        result = stats.pearsonr(x, y)
        assert r_pvalue(float(result.statistic), n) == pytest.approx(result.pvalue, abs=1e-12)
    assert r_pvalue(0.5, 2) is None
    assert r_pvalue(1.0, 9) == 0.0


def test_bh_q_values_by_hand() -> None:
    # m = 4: raw p * m / rank = .04, .04, .0533, .8 -> cumulative minimum from the top
    q = metrics.bh_q_values([0.01, 0.02, 0.04, 0.8, None])
    assert q[:4] == pytest.approx([0.04, 0.04, 0.16 / 3, 0.8])
    assert q[4] is None


def test_ranking_agreement_tau_b() -> None:
    a, b = [1.0, 2.0, 3.0, 3.0], [1.0, 3.0, 2.0, 4.0]
    result = metrics.ranking_agreement(a, b)
    assert result["n_concordant"] == 4
    assert result["n_discordant"] == 1
    assert result["pairwise_agreement"] == pytest.approx(0.8)
    assert result["kendall_tau"] == pytest.approx(3 / math.sqrt(30))
    assert result["kendall_tau"] == pytest.approx(stats.kendalltau(a, b).statistic)
