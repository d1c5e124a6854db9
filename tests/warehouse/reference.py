"""Every mart recomputed from the lake files with warehouse.metrics (numpy/scipy), for cross-checks.

Reads Parquet with pyarrow only (no SQL), one item or group at a time.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations, permutations
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import yaml

from warehouse import metrics

STAGES = ("pretrain", "sft")


def _dataset_rows(path: Path, columns: list[str]) -> list[dict]:
    data = ds.dataset(path, format="parquet", partitioning="hive")
    return data.to_table(columns=columns).to_pylist()


def load_items(root: Path) -> dict:
    rows = _dataset_rows(
        root / "lake" / "benchmark_items", ["benchmark", "item_id", "gold_index", "category"]
    )
    return {(r["benchmark"], r["item_id"]): r for r in rows}


def load_latest_choices(root: Path) -> dict:
    """{(scale, mixture, seed, stage, benchmark): {item_id: [choice rows]}} at the latest step."""
    cols = ["scale", "mixture", "seed", "stage", "benchmark", "item_id", "choice_index", "logprob",
            "n_tokens", "n_chars", "n_bytes", "logprob_uncond", "checkpoint_step"]  # fmt: skip
    rows = _dataset_rows(root / "lake" / "predictions", cols)
    latest: dict = {}
    for r in rows:
        run = (r["scale"], r["mixture"], int(r["seed"]), r["stage"])
        latest[run] = max(latest.get(run, -1), r["checkpoint_step"])
    leaves: dict = defaultdict(lambda: defaultdict(list))
    for r in rows:
        run = (r["scale"], r["mixture"], int(r["seed"]), r["stage"])
        if r["checkpoint_step"] == latest[run]:
            leaves[(*run, r["benchmark"])][r["item_id"]].append(r)
    return leaves


def item_predictions(root: Path) -> dict:
    """{(scale, mixture, seed, stage, benchmark, item_id, norm): ItemScore + is_correct}."""
    items = load_items(root)
    out = {}
    for leaf, by_item in load_latest_choices(root).items():
        for item_id, choices in by_item.items():
            choices = sorted(choices, key=lambda c: c["choice_index"])
            gold = items[(leaf[4], item_id)]["gold_index"]
            columns = {k: [c[k] for c in choices] for k in choices[0]}
            for norm in metrics.NORMALIZATIONS:
                scores = metrics.normalized_scores(
                    norm, columns["logprob"], columns["n_tokens"], columns["n_chars"],
                    columns["n_bytes"], columns["logprob_uncond"],
                )  # fmt: skip
                if scores is None:
                    continue
                score = metrics.item_score(scores, gold)
                out[(*leaf, item_id, norm)] = {
                    **score.__dict__, "is_correct": score.predicted_index == gold, "gold_index": gold,
                }  # fmt: skip
    return out


def benchmark_scores(predictions: dict, chance: dict, primary: dict) -> dict:
    """{(scale, mixture, seed, stage, benchmark, norm): metric dict}; bootstrap CIs only at the
    benchmark's primary normalization."""
    groups: dict = defaultdict(list)
    for key, row in predictions.items():
        groups[(*key[:5], key[6])].append((key[5], row))
    out = {}
    for key, rows in groups.items():
        rows.sort(key=lambda pair: pair[0])
        ids = [item_id for item_id, _ in rows]
        conf = np.array([r["confidence"] for _, r in rows])
        correct = np.array([r["is_correct"] for _, r in rows], dtype=float)
        is_primary = key[5] == primary[key[4]]
        acc_ci = metrics.bootstrap_ci(correct) if is_primary else (None, None)
        conf_ci = metrics.bootstrap_ci(conf) if is_primary else (None, None)
        accuracy = correct.mean()
        out[key] = {
            "n_items": len(rows),
            "n_items_tied": sum(r["n_tied_at_max"] > 1 for _, r in rows),
            "accuracy": accuracy,
            "mean_confidence": conf.mean(),
            "mean_prob_gold": np.mean([r["prob_gold"] for _, r in rows]),
            "brier": np.mean([r["brier"] for _, r in rows]),
            "nll": np.mean([r["nll"] for _, r in rows]),
            "ece_15_equal_width": metrics.ece_equal_width(conf, correct),
            "ece_10_equal_mass": metrics.ece_equal_mass(conf, correct, ids),
            "auroc_confidence": metrics.auroc(conf, correct.astype(bool)),
            "accuracy_ci_low": acc_ci[0],
            "accuracy_ci_high": acc_ci[1],
            "confidence_ci_low": conf_ci[0],
            "confidence_ci_high": conf_ci[1],
            "accuracy_chance_normalized": (accuracy - chance[key[4]]) / (1 - chance[key[4]]),
        }
    return out


def unit_values(scores: dict) -> dict:
    """{(scale, mixture, stage, benchmark, norm, metric): seed-averaged value} (fct_unit_scores)."""
    acc: dict = defaultdict(list)
    for (scale, mixture, _seed, stage, benchmark, norm), row in scores.items():
        acc[(scale, mixture, stage, benchmark, norm, "accuracy")].append(row["accuracy"])
        acc[(scale, mixture, stage, benchmark, norm, "confidence")].append(row["mean_confidence"])
    return {key: float(np.mean(values)) for key, values in acc.items()}


def with_primary_selection(rows: dict, primary: dict, benchmark_at: int, norm_at: int) -> dict:
    """`rows` plus, for marts that combine benchmarks, the primary selection: each benchmark's row
    at its primary normalization again with norm None (is_primary_normalization in SQL)."""
    out = dict(rows)
    for key, value in rows.items():
        if key[norm_at] == primary[key[benchmark_at]]:
            out[(*key[:norm_at], None, *key[norm_at + 1 :])] = value
    return out


def by_key(rows: dict) -> list:
    """Items sorted by key, None sorting first (keys mix None and str norms)."""
    return sorted(rows.items(), key=lambda kv: tuple("" if v is None else str(v) for v in kv[0]))


def with_q(rows: dict, family) -> dict:
    """Add BH q_value to correlation rows, family = function of the row key."""
    families: dict = defaultdict(list)
    for key in rows:
        families[family(key)].append(key)
    for keys in families.values():
        for key, q in zip(
            keys, metrics.bh_q_values([rows[k]["p_value"] for k in keys]), strict=True
        ):
            rows[key]["q_value"] = q
    return rows


def correlate_groups(groups: dict) -> dict:
    """{group + (method,): correlation} for {group: [(x, y), ...]}; groups without a pair with
    both sides defined have no row (as in SQL)."""
    out = {}
    for group, all_pairs in groups.items():
        pairs = [(x, y) for x, y in all_pairs if x is not None and y is not None]
        if not pairs:
            continue
        for method in ("pearson", "spearman"):
            out[(*group, method)] = metrics.correlation(
                [p[0] for p in pairs], [p[1] for p in pairs], method
            )
    return out


def cross_stage(values: dict) -> dict:
    groups: dict = defaultdict(list)
    for (scale, unit, stage, benchmark, norm, metric), x in values.items():
        y = values.get((scale, unit, "sft", benchmark, norm, metric))
        if stage == "pretrain" and y is not None:
            groups[(scale, benchmark, metric, norm)].append((x, y))
    return with_q(correlate_groups(groups), lambda k: (k[0], k[2], k[3], k[4]))


def pair_correlations(values: dict, categories: dict) -> dict:
    """{(scale, metric, norm, kind, benchmark_a, benchmark_b, method): correlation}."""
    by_series: dict = defaultdict(dict)
    for (scale, unit, stage, benchmark, norm, metric), v in values.items():
        by_series[(scale, metric, norm, stage, benchmark)][unit] = v
    groups: dict = {}
    scales = {k[0] for k in by_series}
    shapes = {k[1:3] for k in by_series}
    benchmarks = sorted(categories)
    for scale in scales:
        for metric, norm in shapes:

            def series(stage, b, scale=scale, metric=metric, norm=norm):
                return by_series.get((scale, metric, norm, stage, b), {})

            plans = [("pt_pt", "pretrain", "pretrain", combinations(benchmarks, 2)),
                     ("sft_sft", "sft", "sft", combinations(benchmarks, 2)),
                     ("cross", "pretrain", "sft", permutations(benchmarks, 2))]  # fmt: skip
            for kind, stage_a, stage_b, pairs in plans:
                for a, b in pairs:
                    sa, sb = series(stage_a, a), series(stage_b, b)
                    matched = [(sa[u], sb[u]) for u in sorted(sa) if u in sb]
                    if matched:
                        groups[(scale, metric, norm, kind, a, b)] = matched
    return with_q(correlate_groups(groups), lambda k: (k[0], k[1], k[2], k[3], k[6]))


def alignment_by_mixture(values: dict, categories: dict) -> dict:
    groups: dict = defaultdict(list)
    for (scale, unit, stage, benchmark, norm, metric), acc in values.items():
        if metric == "accuracy":
            conf = values[(scale, unit, stage, benchmark, norm, "confidence")]
            groups[(scale, stage, unit, categories[benchmark], norm)].append((acc, conf))
    return with_q(correlate_groups(groups), lambda k: (k[0], k[1], k[4], k[5]))


def alignment_by_benchmark(values: dict) -> dict:
    groups: dict = defaultdict(list)
    for (scale, unit, stage, benchmark, norm, metric), acc in sorted(values.items()):
        if metric == "accuracy":
            conf = values[(scale, unit, stage, benchmark, norm, "confidence")]
            groups[(scale, stage, benchmark, norm)].append((acc, conf))
    return with_q(correlate_groups(groups), lambda k: (k[0], k[1], k[3], k[4]))


def load_mixture_configs(config_dir: Path) -> dict:
    out = {}
    for path in sorted((config_dir / "mixtures").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        out[data["id"]] = data
    return out


def load_benchmark_configs(config_dir: Path) -> tuple[dict, dict]:
    """({benchmark: chance_accuracy}, {benchmark: primary_normalization})."""
    chance, primary = {}, {}
    for path in sorted((config_dir / "benchmarks").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        chance[data["id"]] = data["chance_accuracy"]
        primary[data["id"]] = data["primary_normalization"]
    return chance, primary


def mean_defined(values) -> tuple[int, float | None]:
    defined = [v for v in values if v is not None]
    return len(defined), (float(np.mean(defined)) if defined else None)


def category_transfer(transfer: dict, categories: dict, primary: dict) -> dict:
    groups: dict = defaultdict(list)
    for (scale, benchmark, metric, norm, method), row in with_primary_selection(
        transfer, primary, 1, 3
    ).items():
        groups[(scale, categories[benchmark], metric, norm, method)].append(row["r"])
        groups[(scale, "all", metric, norm, method)].append(row["r"])
    return {
        k: dict(zip(("n_benchmarks", "mean_r"), mean_defined(v), strict=True))
        for k, v in groups.items()
    }


def coherence(pairs: dict, categories: dict) -> tuple[dict, dict]:
    """(intra-category coherence, per-benchmark coherence)."""
    by_category: dict = defaultdict(list)
    by_benchmark: dict = defaultdict(list)
    for (scale, metric, norm, kind, a, b, method), row in pairs.items():
        if categories[a] != categories[b]:
            continue
        by_category[(scale, categories[a], metric, kind, norm, method)].append(row["r"])
        for benchmark in (a, b):
            by_benchmark[(scale, benchmark, metric, kind, norm, method)].append(row["r"])

    def summarise(groups):
        return {
            k: dict(zip(("n_pairs", "mean_r"), mean_defined(v), strict=True))
            for k, v in groups.items()
        }

    return summarise(by_category), summarise(by_benchmark)


def alignment_summary(
    by_mixture: dict, by_benchmark: dict, categories: dict, primary: dict
) -> dict:
    groups: dict = defaultdict(list)
    for (scale, stage, _unit, category, norm, method), row in by_mixture.items():
        groups[(scale, stage, category, "across_benchmarks", norm, method)].append(row["r"])
    for (scale, stage, benchmark, norm, method), row in with_primary_selection(
        by_benchmark, primary, 2, 3
    ).items():
        groups[(scale, stage, categories[benchmark], "across_mixtures", norm, method)].append(
            row["r"]
        )
    out = {}
    for key, values in groups.items():
        defined = [v for v in values if v is not None]
        out[key] = {"n": len(defined), "r_align": float(np.mean(defined)) if defined else None,
                    "r_align_sd": float(np.std(defined, ddof=1)) if len(defined) > 1 else None}  # fmt: skip
    return out


def persistence(by_mixture: dict) -> dict:
    groups: dict = defaultdict(list)
    for (scale, stage, unit, category, norm, method), row in by_key(by_mixture):
        if stage == "pretrain" and method == "pearson":
            sft = by_mixture.get((scale, "sft", unit, category, norm, method))
            if sft is not None:
                groups[(scale, category, norm)].append((row["r"], sft["r"]))
    return with_q(correlate_groups(groups), lambda k: (k[0], k[2], k[3]))


def confidence_structure(pairs: dict) -> dict:
    groups: dict = defaultdict(list)
    for (scale, metric, norm, kind, a, b, method), row in by_key(pairs):
        if kind == "pt_pt":
            sft = pairs.get((scale, metric, norm, "sft_sft", a, b, method))
            if sft is not None and row["r"] is not None and sft["r"] is not None:
                groups[(scale, metric, norm, method)].append((row["r"], sft["r"]))
    out = {k: metrics.correlation([p[0] for p in v], [p[1] for p in v]) for k, v in groups.items()}
    return with_q(out, lambda k: (k[1], k[2], k[3]))


def mixture_effects(values: dict, mixtures: dict) -> dict:
    groups: dict = defaultdict(list)
    for (scale, unit, stage, benchmark, norm, metric), v in sorted(values.items()):
        if unit in mixtures:
            groups[(scale, stage, benchmark, metric, norm)].append(
                (mixtures[unit]["proportions"][1], v)
            )
    return with_q(correlate_groups(groups), lambda k: (k[0], k[1], k[3], k[4], k[5]))


def web_source_contrasts(values: dict, by_mixture: dict, mixtures: dict) -> dict:
    measures: dict = defaultdict(dict)
    for (scale, unit, stage, benchmark, norm, metric), v in values.items():
        measures[(scale, stage, metric, benchmark, norm)][unit] = v
    for (scale, stage, unit, category, norm, method), row in by_mixture.items():
        if method == "pearson" and row["r"] is not None:
            measures[(scale, stage, "r_align", category, norm)][unit] = row["r"]
    out = {}
    for key, by_unit in measures.items():
        cells = {(mixtures[u]["web_source"], tuple(mixtures[u]["proportions"])): v
                 for u, v in by_unit.items() if u in mixtures}  # fmt: skip
        sources = sorted({s for s, _ in cells})
        for a, b in combinations(sources, 2):
            shared = [p for s, p in cells if s == a and (b, p) in cells]
            if shared:
                mean_a = float(np.mean([cells[(a, p)] for p in shared]))
                mean_b = float(np.mean([cells[(b, p)] for p in shared]))
                out[(*key, a, b)] = {"n_proportions": len(shared), "mean_a": mean_a,
                                     "mean_b": mean_b, "difference": mean_a - mean_b}  # fmt: skip
    return out


def item_flips(predictions: dict) -> dict:
    groups: dict = defaultdict(list)
    for (scale, mixture, seed, stage, benchmark, item_id, norm), row in sorted(predictions.items()):
        sft = predictions.get((scale, mixture, seed, "sft", benchmark, item_id, norm))
        if stage == "pretrain" and sft is not None:
            groups[(scale, mixture, seed, benchmark, norm)].append((row, sft))
    out = {}
    for key, pairs in groups.items():
        flips = {"n_correct_to_correct": (True, True), "n_correct_to_wrong": (True, False),
                 "n_wrong_to_correct": (False, True), "n_wrong_to_wrong": (False, False)}  # fmt: skip
        row = {name: sum((p["is_correct"], s["is_correct"]) == cell for p, s in pairs)
               for name, cell in flips.items()}  # fmt: skip
        corr = metrics.correlation(
            [p["prob_gold"] for p, _ in pairs], [s["prob_gold"] for _, s in pairs]
        )
        row.update(n_items=len(pairs), r_prob_gold=corr["r"], p_value=corr["p_value"],
                   ci_low=corr["ci_low"], ci_high=corr["ci_high"])  # fmt: skip
        out[key] = row
    return with_q(out, lambda k: (k[4],))


def ranking(values: dict, categories: dict, scale_order: list[str], primary: dict) -> dict:
    series: dict = defaultdict(dict)
    for (scale, unit, stage, benchmark, norm, metric), v in values.items():
        series[(scale, stage, "benchmark", benchmark, metric, norm)][unit] = v
    for (scale, unit, stage, benchmark, norm, metric), v in with_primary_selection(
        values, primary, 3, 4
    ).items():
        cat = series.setdefault((scale, stage, "category", categories[benchmark], metric, norm), {})
        cat.setdefault(unit, []).append(v) if isinstance(cat.get(unit, []), list) else None
    for key, by_unit in series.items():
        if key[2] == "category":
            series[key] = {u: float(np.mean(v)) for u, v in by_unit.items()}
    out = {}
    for (scale, stage, level, subject, metric, norm), a in series.items():
        targets = []
        if stage == "pretrain":
            targets.append(("pretrain_vs_sft", scale, "sft"))
        targets += [("scale_vs_scale", s, stage) for s in scale_order
                    if scale_order.index(s) > scale_order.index(scale)]  # fmt: skip
        for comparison, scale_b, stage_b in targets:
            b = series.get((scale_b, stage_b, level, subject, metric, norm))
            if not b:
                continue
            units = sorted(set(a) & set(b))
            out[(comparison, scale, stage, scale_b, stage_b, level, subject, metric, norm)] = (
                metrics.ranking_agreement([a[u] for u in units], [b[u] for u in units])
            )
    return out
