"""Score sections of the study report: chance test, accuracy by mixture, calibration, licences.

Used by: xstage report [STUDY] (warehouse/report.py runs the sections in page order).
"""

from __future__ import annotations

import polars as pl

from warehouse import report_data as data
from warehouse import report_figures as figs
from warehouse import report_html as H
from warehouse.report_sections import Context, Section, tidy

CHANCE_COLUMNS = [
    "scale", "category", "benchmark", "n_items", "chance_accuracy", "majority_baseline",
    "mean_accuracy", "best_accuracy", "n_above_chance", "n_models", "best_p_binomial",
]  # fmt: skip


def chance_verdict(context: Context) -> str:
    """The banner: how many pretrained models beat chance, with the test named."""
    per_run = context.above_chance()
    if not per_run.height:
        return "No pretrained checkpoints were scored, so no chance test was run."
    n_above = int(per_run["is_above_chance"].sum())
    benchmarks = sorted(set(per_run.filter(pl.col("is_above_chance"))["benchmark"].to_list()))
    share = n_above / per_run.height
    near = share < 0.5
    lead = (
        "<strong>These models are near chance.</strong> "
        if near
        else "<strong>Many models beat chance.</strong> "
    )
    return (
        f"{lead}{n_above} of {per_run.height} pretrained model x benchmark scores are above "
        f"chance (one-sided exact binomial test, p &lt; {data.ABOVE_CHANCE_ALPHA}, on "
        "n_items and accuracy of <code>marts.fct_benchmark_scores</code>, primary "
        "normalisation)"
        + (f": {H.esc(', '.join(benchmarks))}." if benchmarks else ".")
        + (
            " With models this small, the correlations below show the pipeline working, not "
            "the reference study's findings."
            if near
            else ""
        )
    )


def above_chance_section(context: Context) -> Section:
    per_run = context.above_chance()
    summary = data.above_chance_by_benchmark(per_run)
    if summary.height:
        summary = summary.join(data.majority_baseline(context.con), on="benchmark", how="left")
    body = (
        "<p>A model is called above chance only when a one-sided exact binomial test of its "
        "correct count against the benchmark's chance accuracy gives p &lt; "
        f"{data.ABOVE_CHANCE_ALPHA} (no multiple-comparison correction; shaded rows have at "
        "least one such model). <code>majority_baseline</code> is what always giving the most "
        "common gold index scores on these items: a model near it beats chance through an "
        "answer prior (e.g. preferring one label), not through knowledge of the task.</p>"
        + H.source(
            ["marts.fct_benchmark_scores", "marts.fct_item_predictions"],
            "stage pretrain, is_primary_normalization; n_correct = round(accuracy x n_items); "
            "p from scipy.stats.binomtest",
        )
        + H.table(
            tidy(summary, context.scales, ["category", "benchmark"]),
            [c for c in CHANCE_COLUMNS if c in summary.columns],
            highlight="any_above_chance",
        )
    )
    return "chance", "Which pretrained models beat chance", body


def accuracy_section(context: Context) -> Section:
    frame = data.accuracy_by_mixture(context.con)
    panels = [
        (
            f"{scale} · {stage}",
            frame.filter((pl.col("scale") == scale) & (pl.col("stage") == stage)),
        )
        for scale in context.scales
        for stage in ("pretrain", "sft")
    ]
    benchmarks = (
        frame.sort("category", "benchmark")["benchmark"].unique(maintain_order=True).to_list()
    )
    name = figs.heatmaps(
        panels,
        row="mixture",
        col="benchmark",
        value="accuracy_minus_chance",
        out_dir=context.out_dir,
        name="accuracy_by_mixture",
        col_order=benchmarks,
        vmin=-0.3,
        vmax=0.3,
        annotate=False,
        ncols=2,
    )
    body = H.source(
        ["marts.fct_benchmark_scores"], "accuracy − chance_accuracy, primary normalisation"
    ) + H.figure(name, "Accuracy above chance by pretraining mixture, per scale and stage")
    return "accuracy", "Accuracy by mixture", body


def reliability_section(context: Context) -> Section:
    frame = data.reliability_bins(context.con)
    name = figs.reliability(
        frame,
        panel="scale",
        out_dir=context.out_dir,
        name="reliability",
        panel_order=context.scales,
    )
    body = H.source(
        ["marts.fct_calibration_bins", "marts.fct_benchmark_scores"],
        "15 equal-width bins pooled over runs and benchmarks (item-weighted), primary "
        "normalisation",
    ) + H.figure(name, "Reliability diagrams: accuracy vs confidence per bin, PT and SFT")
    calibration = (
        data.primary_scores(context.con)
        .group_by("scale", "stage")
        .agg(
            pl.col("ece_15_equal_width").mean().alias("mean_ece_15_equal_width"),
            pl.col("ece_10_equal_mass").mean().alias("mean_ece_10_equal_mass"),
            pl.col("brier").mean().alias("mean_brier"),
            pl.col("overconfidence").mean().alias("mean_overconfidence"),
        )
    )
    calibration = tidy(calibration, context.scales, ["stage"])
    body += H.source(["marts.fct_benchmark_scores"], "means over runs x benchmarks") + H.table(
        calibration
    )
    return "calibration", "Calibration: reliability diagrams and ECE", body


def licences_section(context: Context) -> Section:
    from xstage.config import load_config

    benchmarks = sorted(set(data.primary_scores(context.con)["benchmark"].to_list()))
    rows = []
    for benchmark in benchmarks:
        config = load_config("benchmarks", benchmark)
        rows.append(
            {
                "benchmark": benchmark,
                "display_name": config.display_name,
                "dataset": config.source.dataset,
                "config": config.source.config or "",
                "split": config.source.split,
                "license": config.license,
            }
        )
    body = (
        '<p class="source">Source: <code>configs/benchmarks/*.yaml</code> (licences travel '
        "with the data; check each before redistributing results).</p>"
        + H.table(pl.DataFrame(rows))
    )
    return "licences", "Dataset licences", body
