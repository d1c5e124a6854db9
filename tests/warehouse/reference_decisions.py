"""Decision statistics recomputed with numpy/scipy from the lake files (docs/metrics_decisions.md).

Signal, noise and SNR over periodic checkpoints; seed spread and per-seed transfer r; decision
accuracy (pairs tied on either side are left out); the PT metric that best predicts the SFT
ranking; seeded item-bootstrap percentile intervals of r and decision accuracy. Per-item scores
come from warehouse.metrics.item_score (the per-item reference every mart test already uses);
everything above the item is computed here, without SQL and without warehouse.metrics' helpers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from itertools import combinations

import numpy as np
import pyarrow.dataset as ds
from scipy import stats

from warehouse import metrics

METRICS = ("accuracy", "confidence", "prob_gold", "nll")
LOWER_IS_BETTER = {"nll"}
RANK_DECIMALS = 12


def _rows(path, columns):
    return ds.dataset(path, format="parquet", partitioning="hive").to_table(columns=columns)


def checkpoint_scores(root) -> dict:
    """{(scale, mixture, seed, stage, benchmark, step, norm): {metric: value}} at every step."""
    gold = {
        (r["benchmark"], r["item_id"]): r["gold_index"]
        for r in _rows(
            root / "lake" / "benchmark_items", ["benchmark", "item_id", "gold_index"]
        ).to_pylist()
    }
    cols = ["scale", "mixture", "seed", "stage", "benchmark", "checkpoint_step", "item_id",
            "choice_index", "logprob", "n_tokens", "n_chars", "n_bytes", "logprob_uncond"]  # fmt: skip
    items: dict = defaultdict(list)
    for r in _rows(root / "lake" / "predictions", cols).to_pylist():
        leaf = (r["scale"], r["mixture"], int(r["seed"]), r["stage"], r["benchmark"])
        items[(*leaf, r["checkpoint_step"], r["item_id"])].append(r)
    values: dict = defaultdict(lambda: defaultdict(list))
    for key, choices in sorted(items.items()):
        choices.sort(key=lambda c: c["choice_index"])
        c = {k: [row[k] for row in choices] for k in choices[0]}
        for norm in metrics.NORMALIZATIONS:
            scores = metrics.normalized_scores(
                norm, c["logprob"], c["n_tokens"], c["n_chars"], c["n_bytes"], c["logprob_uncond"]
            )
            if scores is None:
                continue
            s = metrics.item_score(scores, gold[(key[4], key[6])])
            row = values[(*key[:6], norm)]
            row["accuracy"].append(float(s.predicted_index == gold[(key[4], key[6])]))
            row["confidence"].append(s.confidence)
            row["prob_gold"].append(s.prob_gold)
            row["nll"].append(s.nll)
    return {k: {m: float(np.mean(v[m])) for m in METRICS} for k, v in values.items()}


ZERO = 1e-12  # signal and noise are relative: below this they are float noise, i.e. 0


def _zeroed(value: float) -> float:
    return 0.0 if abs(value) <= ZERO else float(value)


def signal(finals) -> float | None:
    """(max - min) / mean of the compared mixtures' final scores; None when the mean is 0."""
    finals = np.asarray(finals, dtype=np.float64)
    mean = finals.mean()
    return None if mean == 0 else _zeroed((finals.max() - finals.min()) / mean)


def noise(series_by_mixture) -> float | None:
    """Mean over mixtures of std(ddof=1) / mean of its last-n scores; None when n < 2 or a mean is 0."""
    ratios = []
    for series in series_by_mixture:
        series = np.asarray(series, dtype=np.float64)
        if len(series) < 2 or series.mean() == 0:
            return None
        ratios.append(series.std(ddof=1) / series.mean())
    return _zeroed(np.mean(ratios))


def snr(signal_value, noise_value) -> float | None:
    """signal / noise; None when either is None or noise is 0."""
    if signal_value is None or noise_value is None or noise_value == 0:
        return None
    return signal_value / noise_value


def signal_noise(scores: dict, last_n: int) -> dict:
    """{(scale, stage, benchmark, metric, norm): signal, noise, snr}; seeds averaged per step."""
    by_unit: dict = defaultdict(lambda: defaultdict(list))
    for (scale, mixture, _seed, stage, benchmark, step, norm), row in scores.items():
        for metric in METRICS:
            by_unit[(scale, stage, benchmark, metric, norm)][(mixture, step)].append(row[metric])
    out = {}
    for key, cells in by_unit.items():
        series: dict = defaultdict(dict)
        for (mixture, step), values in cells.items():
            series[mixture][step] = float(np.mean(values))
        last = {m: [s[step] for step in sorted(s)[-last_n:]] for m, s in series.items()}
        sig = signal([v[-1] for v in last.values()])
        noi = noise(list(last.values()))
        out[key] = {"signal": sig, "noise": noi, "snr": snr(sig, noi)}
    return out


def oriented(metric: str, value: float) -> float:
    """Higher is better for every metric (nll's sign flipped), rounded as ranks are."""
    return round(-value if metric in LOWER_IS_BETTER else value, RANK_DECIMALS)


def decision_accuracy(source, target) -> dict:
    """Share of unordered unit pairs i < j ordered alike; pairs tied on either side left out."""
    agree = disagree = tied = 0
    for i, j in combinations(range(len(source)), 2):
        a, b = np.sign(source[i] - source[j]), np.sign(target[i] - target[j])
        if a == 0 or b == 0:
            tied += 1
        elif a == b:
            agree += 1
        else:
            disagree += 1
    share = agree / (agree + disagree) if agree + disagree else None
    return {"n_agree": agree, "n_disagree": disagree, "n_tied": tied, "decision_accuracy": share}


def pearson(x, y) -> tuple[float | None, float | None]:
    """r and two-sided p with DESIGN §10's degenerate rules (n < 3 or no spread: None)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None
    result = stats.pearsonr(x, y)
    return float(result.statistic), float(result.pvalue)


def seed_agreement(final: dict, metric: str, alpha: float = 0.05) -> dict:
    """Per (scale, benchmark, norm): r per seed and on seed means, and how often seeds agree.

    `final` maps (scale, mixture, seed, stage, benchmark, norm) -> {metric: value} at the final step.
    Per seed, r over the mixtures with that seed at both stages; sign_agreement: share of the seeds
    with a defined r whose r has the seed-mean r's sign; significance_agreement: share whose
    (p < alpha) equals the seed-mean r's. seed_std: mean over the mixture x stage cells with >= 2
    seeds of the sample std (ddof=1) over their seeds.
    """
    cells: dict = defaultdict(lambda: defaultdict(dict))
    for (scale, mixture, seed, stage, benchmark, norm), row in final.items():
        cells[(scale, benchmark, norm)][(mixture, stage)][seed] = row[metric]
    return {key: _seed_row(by_cell, alpha) for key, by_cell in cells.items()}


def _seed_row(by_cell: dict, alpha: float) -> dict:
    """One (scale, benchmark, norm) of seed_agreement; by_cell maps (mixture, stage) -> {seed: v}."""
    mixtures = sorted({m for m, _ in by_cell})
    seeds = sorted(set().union(*(set(v) for v in by_cell.values())))

    def transfer(value_of, has) -> tuple[float | None, float | None]:
        both = [m for m in mixtures if has(by_cell.get((m, "pretrain"), {}))
                and has(by_cell.get((m, "sft"), {}))]  # fmt: skip
        pt = [value_of(by_cell[(m, "pretrain")]) for m in both]
        return pearson(pt, [value_of(by_cell[(m, "sft")]) for m in both])

    r_mean, p_mean = transfer(lambda cell: float(np.mean(list(cell.values()))), bool)
    per_seed = [transfer(lambda cell, s=s: cell[s], lambda cell, s=s: s in cell) for s in seeds]
    defined = [(r, p) for r, p in per_seed if r is not None]
    spreads = [np.std(list(v.values()), ddof=1) for v in by_cell.values() if len(v) >= 2]
    agree = r_mean is not None and defined
    return {
        "n_units": sum(1 for m in mixtures if (m, "pretrain") in by_cell and (m, "sft") in by_cell),
        "n_seeds": len(seeds),
        "n_seeds_defined": len(defined),
        "r_seed_mean": r_mean,
        "p_seed_mean": p_mean,
        "r_per_seed": [r for r, _ in per_seed],
        "r_seed_min": min(r for r, _ in defined) if defined else None,
        "r_seed_max": max(r for r, _ in defined) if defined else None,
        "seed_std": float(np.mean(spreads)) if spreads else None,
        "sign_agreement": (
            float(np.mean([np.sign(r) == np.sign(r_mean) for r, _ in defined])) if agree else None
        ),
        "significance_agreement": (
            float(np.mean([(p < alpha) == (p_mean < alpha) for _, p in defined])) if agree else None
        ),
    }


def best_pt_metric(pt: dict, sft_target) -> tuple[tuple[str, str], float]:
    """The (metric, norm) whose PT values order the units most like `sft_target` does.

    `pt` maps (metric, norm) -> values over the same units; ties go to the first in name order.
    """
    scored = []
    for (metric, norm), values in sorted(pt.items()):
        share = decision_accuracy([oriented(metric, v) for v in values], sft_target)
        if share["decision_accuracy"] is not None:
            scored.append((-share["decision_accuracy"], metric, norm))
    best = min(scored)
    return (best[1], best[2]), -best[0]


def bootstrap_interval(item_values: dict, statistic, seed: int, resamples: int):
    """Percentile 95% interval (numpy 'linear') of statistic(unit -> mean) over item resamples.

    `item_values` maps unit -> per-item values sorted by item_id (same items for every unit, the
    benchmark's); one plan, default_rng([seed, n]).integers(0, n, (resamples, n)), resamples the
    same items for every unit, so the pairing of units by item survives.
    """
    units = sorted(item_values)
    matrix = np.array([item_values[u] for u in units], dtype=np.float64)
    n = matrix.shape[1]
    plan = np.random.default_rng([seed, n]).integers(0, n, size=(resamples, n))
    draws = []
    for rows in plan:
        value = statistic(dict(zip(units, matrix[:, rows].mean(axis=1), strict=True)))
        if value is not None and not math.isnan(value):
            draws.append(value)
    if not draws:
        return None, None
    low, high = np.quantile(draws, [0.025, 0.975])
    return float(low), float(high)


def best_pt_table(final: dict, primary: dict) -> dict:
    """{(scale, benchmark, metric, norm): counts, decision_accuracy, is_best} (fct_best_pt_metric).

    `final` as for seed_agreement; seeds averaged per unit; target: SFT accuracy at `primary`.
    """
    cells: dict = defaultdict(list)
    for (scale, mixture, _seed, stage, benchmark, norm), row in final.items():
        for metric in METRICS:
            cells[(scale, stage, benchmark, norm, metric, mixture)].append(row[metric])
    means = {k: float(np.mean(v)) for k, v in cells.items()}
    out = {}
    for scale, stage, benchmark, norm, metric, _ in sorted(means):
        if stage != "pretrain" or (scale, benchmark, metric, norm) in out:
            continue
        units = sorted(u for (s, st, b, n, m, u) in means
                       if (s, st, b, n, m) == (scale, "pretrain", benchmark, norm, metric))  # fmt: skip
        source = [oriented(metric, means[(scale, "pretrain", benchmark, norm, metric, u)])
                  for u in units]  # fmt: skip
        target = [round(means[(scale, "sft", benchmark, primary[benchmark], "accuracy", u)],
                        RANK_DECIMALS) for u in units]  # fmt: skip
        out[(scale, benchmark, metric, norm)] = {
            **decision_accuracy(source, target),
            "is_best": False,
        }
    for scale, benchmark in {(k[0], k[1]) for k in out}:
        pt = {}
        for (s, b, metric, norm), row in out.items():
            if (s, b) == (scale, benchmark):
                pt[(metric, norm)] = row
        defined = [(-r["decision_accuracy"], m, n) for (m, n), r in pt.items()
                   if r["decision_accuracy"] is not None]  # fmt: skip
        if defined:
            _, metric, norm = min(defined)
            out[(scale, benchmark, metric, norm)]["is_best"] = True
    return out


def seed_means(final: dict) -> dict:
    """{(scale, stage, benchmark, norm, metric): {mixture: seed-mean value}} (None dropped)."""
    cells: dict = defaultdict(list)
    for (scale, mixture, _seed, stage, benchmark, norm), row in final.items():
        for metric in METRICS:
            if row[metric] is not None:
                cells[(scale, stage, benchmark, norm, metric, mixture)].append(row[metric])
    out: dict = defaultdict(dict)
    for (*key, mixture), values in cells.items():
        out[tuple(key)][mixture] = float(np.mean(values))
    return out


def _leveled(means: dict, categories: dict, primary: dict) -> dict:
    """{(scale, stage, level, subject, norm, metric): {mixture: value}}; categories by mean."""
    out: dict = {}
    pooled: dict = defaultdict(lambda: defaultdict(list))
    for (scale, stage, benchmark, norm, metric), values in means.items():
        out[(scale, stage, "benchmark", benchmark, norm, metric)] = values
        selections = [norm] + ([None] if primary[benchmark] == norm else [])
        for selection in selections:
            key = (scale, stage, "category", categories[benchmark], selection, metric)
            for mixture, value in values.items():
                pooled[key][mixture].append(value)
    for key, values in pooled.items():
        out[key] = {m: float(np.mean(v)) for m, v in values.items()}
    return out


def decision_accuracy_table(final: dict, categories: dict, primary: dict, n_params: dict) -> dict:
    """fct_decision_accuracy: {(comparison, scale_a, stage_a, scale_b, stage_b, level, subject,
    metric, norm): decision_accuracy counts}; PT -> SFT per scale, small -> large per stage."""
    leveled = _leveled(seed_means(final), categories, primary)
    scales = sorted(n_params, key=lambda s: (n_params[s], s))
    settings = [("pretrain_vs_sft", s, "pretrain", s, "sft") for s in scales]
    settings += [("scale_vs_scale", a, st, b, st) for a, b in combinations(scales, 2)
                 for st in ("pretrain", "sft")]  # fmt: skip
    out = {}
    for comparison, scale_a, stage_a, scale_b, stage_b in settings:
        for (scale, stage, level, subject, norm, metric), side_a in leveled.items():
            side_b = leveled.get((scale_b, stage_b, level, subject, norm, metric))
            if (scale, stage) != (scale_a, stage_a) or side_b is None:
                continue
            mixtures = sorted(set(side_a) & set(side_b))
            if len(mixtures) < 2:
                continue
            source = [oriented(metric, side_a[m]) for m in mixtures]
            target = [oriented(metric, side_b[m]) for m in mixtures]
            key = (comparison, scale_a, stage_a, scale_b, stage_b, level, subject, metric, norm)
            out[key] = decision_accuracy(source, target)
    return out
