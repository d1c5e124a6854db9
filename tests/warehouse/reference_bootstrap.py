"""Item-bootstrap intervals of the transfer r and decision accuracy, recomputed from the lake files.

The reference of int_transfer_intervals_bootstrapped, fct_transfer_uncertainty and the interval
columns of fct_decision_accuracy (docs/metrics_decisions.md): per-item values from
warehouse.metrics.item_score at each run x stage's latest checkpoint and each benchmark's primary
normalization, seed-averaged; both comparisons (PT -> SFT, small -> large); the plan
numpy default_rng([seed, crc32(benchmark), n]).integers(0, n, (B, n)) gathers items (the model
multiplies by a count matrix instead); r via scipy, decision accuracy by counting pairs.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict

import numpy as np
from scipy import stats

from tests.warehouse import reference_decisions as ref
from warehouse import metrics

METRICS = ref.METRICS


def _latest_rows(root) -> list[dict]:
    cols = ["scale", "mixture", "seed", "stage", "benchmark", "checkpoint_step", "item_id",
            "choice_index", "logprob", "n_tokens", "n_chars", "n_bytes", "logprob_uncond"]  # fmt: skip
    rows = ref._rows(root / "lake" / "predictions", cols).to_pylist()
    latest: dict = {}
    for r in rows:
        run = (r["scale"], r["mixture"], r["seed"], r["stage"])
        latest[run] = max(latest.get(run, -1), r["checkpoint_step"])
    return [r for r in rows if r["checkpoint_step"] == latest[(r["scale"], r["mixture"],
                                                                  r["seed"], r["stage"])]]  # fmt: skip


def item_values(root, primary: dict) -> dict:
    """{(scale, benchmark): {(mixture, stage): {item_id: (acc, conf, prob_gold, -nll)}}}."""
    gold = {
        (r["benchmark"], r["item_id"]): r["gold_index"]
        for r in ref._rows(
            root / "lake" / "benchmark_items", ["benchmark", "item_id", "gold_index"]
        ).to_pylist()
    }
    choices: dict = defaultdict(list)
    for r in _latest_rows(root):
        choices[
            (r["scale"], r["benchmark"], r["mixture"], r["stage"], r["item_id"], r["seed"])
        ].append(r)
    per_seed: dict = defaultdict(list)
    for (scale, benchmark, mixture, stage, item, _seed), rows in choices.items():
        rows.sort(key=lambda c: c["choice_index"])
        c = {k: [row[k] for row in rows] for k in rows[0]}
        scores = metrics.normalized_scores(primary[benchmark], c["logprob"], c["n_tokens"],
                                           c["n_chars"], c["n_bytes"], c["logprob_uncond"])  # fmt: skip
        s = metrics.item_score(scores, gold[(benchmark, item)])
        value = (
            float(s.predicted_index == gold[(benchmark, item)]),
            s.confidence,
            s.prob_gold,
            -s.nll,
        )
        per_seed[(scale, benchmark, mixture, stage, item)].append(value)
    out: dict = defaultdict(lambda: defaultdict(dict))
    for (scale, benchmark, mixture, stage, item), values in per_seed.items():
        out[(scale, benchmark)][(mixture, stage)][item] = np.mean(values, axis=0)
    return out


def r_of(x, y) -> float:
    """scipy Pearson r; NaN when n < 3 or a side's std <= 1e-12 x max(1, |mean|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    for side in (x, y):
        if len(side) < 3 or side.std() <= 1e-12 * max(1.0, abs(side.mean())):
            return math.nan
    return float(stats.pearsonr(x, y).statistic)


def share_of(x, y) -> float:
    """Decision accuracy of two orderings (NaN when every pair ties)."""
    share = ref.decision_accuracy(list(x), list(y))["decision_accuracy"]
    return math.nan if share is None else share


def _matrix(side_a: dict, side_b: dict):
    """(mixtures, items sorted, array mixtures x 2 sides x items x metrics) of one comparison;
    a side is {mixture: {item_id: values}}."""
    mixtures = sorted(set(side_a) & set(side_b))
    items = sorted(set.intersection(*(set(side[m]) for m in mixtures
                                      for side in (side_a, side_b))))  # fmt: skip
    array = np.array([[[side[m][i] for i in items] for side in (side_a, side_b)]
                      for m in mixtures])  # fmt: skip
    return mixtures, items, array


def comparisons(values: dict, scales: list) -> dict:
    """{(comparison, scale_a, stage_a, scale_b, stage_b, benchmark): (side A, side B)}, as
    fct_decision_accuracy pairs settings: PT -> SFT per scale, small -> large per stage."""

    def side(scale, benchmark, stage) -> dict:
        cells = values.get((scale, benchmark), {})
        return {m: items for (m, st), items in cells.items() if st == stage}

    out = {}
    for benchmark in sorted({b for _, b in values}):
        for scale in scales:
            out[("pretrain_vs_sft", scale, "pretrain", scale, "sft", benchmark)] = (
                side(scale, benchmark, "pretrain"),
                side(scale, benchmark, "sft"),
            )
        for stage in ("pretrain", "sft"):
            for a, small in enumerate(scales):
                for large in scales[a + 1 :]:
                    out[("scale_vs_scale", small, stage, large, stage, benchmark)] = (
                        side(small, benchmark, stage),
                        side(large, benchmark, stage),
                    )
    return {k: v for k, v in out.items() if set(v[0]) & set(v[1])}


def _interval(draws) -> tuple[float | None, float | None, int]:
    defined = [d for d in draws if not math.isnan(d)]
    if not defined:
        return None, None, 0
    low, high = np.quantile(defined, [0.025, 0.975])
    return float(low), float(high), len(defined)


def _row(point_r, point_share, r_draws, share_draws) -> dict:
    r_low, r_high, r_n = _interval(r_draws)
    d_low, d_high, d_n = _interval(share_draws)
    nan_none = lambda v: None if v is None or math.isnan(v) else v  # noqa: E731
    return {"r": nan_none(point_r), "r_boot_low": r_low, "r_boot_high": r_high,
            "n_r_resamples": r_n, "decision_accuracy": nan_none(point_share),
            "decision_accuracy_boot_low": d_low, "decision_accuracy_boot_high": d_high,
            "n_decision_resamples": d_n}  # fmt: skip


def transfer_intervals(values: dict, categories: dict, n_params: dict, seed: int,
                       resamples: int) -> dict:  # fmt: skip
    """{(comparison, scale_a, stage_a, scale_b, stage_b, level, subject, metric): row} as
    int_transfer_intervals_bootstrapped has it; scales ordered by (n_params, name)."""
    scales = sorted(n_params, key=lambda s: (n_params[s], s))
    out, members = {}, defaultdict(list)
    for (*key, benchmark), (side_a, side_b) in sorted(comparisons(values, scales).items()):
        mixtures, items, array = _matrix(side_a, side_b)
        n = len(items)
        plan = np.random.default_rng([seed, zlib.crc32(benchmark.encode()), n]).integers(
            0, n, size=(resamples, n)
        )
        raw_full = array.mean(axis=2)
        raw_draws = np.stack([array[:, :, rows].mean(axis=2) for rows in plan])
        full, draws = np.round(raw_full, 12), np.round(raw_draws, 12)
        for k, metric in enumerate(METRICS):
            r_draws = [r_of(d[:, 0, k], d[:, 1, k]) for d in draws]
            share_draws = [share_of(d[:, 0, k], d[:, 1, k]) for d in draws]
            point = r_of(full[:, 0, k], full[:, 1, k])
            out[(*key, "benchmark", benchmark, metric)] = {
                **_row(point, share_of(full[:, 0, k], full[:, 1, k]), r_draws, share_draws),
                "n_mixtures": len(mixtures), "n_items": n,
            }  # fmt: skip
            members[(*key, categories[benchmark], metric)].append(
                (mixtures, raw_full[:, :, k], raw_draws[:, :, :, k], point, r_draws)
            )
    for (*key, category, metric), parts in members.items():
        out[(*key, "category", category, metric)] = _category_row(parts, resamples)
    return out


def _category_row(parts: list, resamples: int) -> dict:
    """Category: mean over benchmarks of r (per resample), and of the unrounded mixture scores
    (rounded after the mean, as fct_decision_accuracy does) for the share."""

    def unit_means(pick) -> dict:
        pooled: dict = defaultdict(list)
        for mixtures, full, draws, _, _ in parts:
            for index, mixture in enumerate(mixtures):
                pooled[mixture].append(pick(full, draws)[index])
        return {m: np.round(np.mean(v, axis=0), 12) for m, v in sorted(pooled.items())}

    def r_mean(values) -> float:
        defined = [v for v in values if not math.isnan(v)]
        return float(np.mean(defined)) if defined else math.nan

    full = np.array(list(unit_means(lambda f, d: f).values()))
    point_share = share_of(full[:, 0], full[:, 1])
    r_draws, share_draws = [], []
    for b in range(resamples):
        units = np.array(list(unit_means(lambda f, d, b=b: d[b]).values()))
        share_draws.append(share_of(units[:, 0], units[:, 1]))
        r_draws.append(r_mean([p[4][b] for p in parts]))
    row = _row(r_mean([p[3] for p in parts]), point_share, r_draws, share_draws)
    return {**row, "n_mixtures": len(full), "n_items": None}
