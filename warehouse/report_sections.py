"""Correlation sections of the study report, and the Context every section receives.

Transfer (Figure 1), coherence, confidence structure, alignment, flips, mixture effects.

Used by: xstage report [STUDY] (warehouse/report.py runs the sections in page order). A section
returns (anchor, title, html body); its figures go to the report folder as PNG files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from warehouse import report_data as data
from warehouse import report_figures as figs
from warehouse import report_html as H

CATEGORY_ORDER = ["commonsense", "science", "nli", "semantic", "all"]
Section = tuple[str, str, str]


@dataclass
class Context:
    """What every section needs: the read-only connection, output folder, scale order."""

    con: object
    out_dir: Path
    scales: list[str]
    study: str
    cache: dict = field(default_factory=dict)

    def above_chance(self) -> pl.DataFrame:
        """Per-model binomial tests at the pretrain stage (computed once)."""
        if "above_chance" not in self.cache:
            self.cache["above_chance"] = data.above_chance(self.con)
        return self.cache["above_chance"]


def tidy(frame: pl.DataFrame, scales: list[str], by: list[str] | None = None) -> pl.DataFrame:
    """Sort by scale size then `by`; drop filter columns that hold one value (named above)."""
    constant = [
        name
        for name in ("length_normalization", "method")
        if name in frame.columns and frame[name].n_unique() <= 1
    ]
    frame = frame.drop(constant)
    keys = [name for name in (by or []) if name in frame.columns]
    for scale_column in ("scale", "scale_a"):
        if scale_column in frame.columns:
            rank = {scale: index for index, scale in enumerate(scales)}
            frame = frame.with_columns(
                pl.col(scale_column).replace_strict(rank, default=len(rank)).alias("_rank")
            )
            return frame.sort(["_rank", *keys]).drop("_rank")
    return frame.sort(keys) if keys else frame


def _missing(name: str) -> str:
    return f'<p class="muted">Mart <code>marts.{H.esc(name)}</code> is not in the warehouse.</p>'


def transfer_section(context: Context) -> Section:
    norm = data.correlation_normalization(context.con)
    frame = data.category_transfer(context.con).filter(pl.col("method") == "pearson")
    name = figs.grouped_bars(
        frame,
        panel="metric",
        x="category",
        group="scale",
        value="mean_r",
        out_dir=context.out_dir,
        name="figure1_cross_stage_transfer",
        x_order=[c for c in CATEGORY_ORDER if c in set(frame["category"].to_list())],
        ylabel="mean Pearson r (PT vs SFT, over mixtures)",
        panel_titles={"accuracy": "r_acc: accuracy", "confidence": "r_conf: confidence"},
        group_order=context.scales,
    )
    body = (
        "<p>For each benchmark and scale, r correlates a mixture's pretrained value with its "
        "fine-tuned value over the mixtures (n = number of mixtures); a category's bar is the "
        "unweighted mean over its benchmarks, <code>all</code> the mean over every benchmark. "
        "With n = 9, |r| must exceed about 0.67 for p &lt; 0.05."
        + (
            " Normalisation <code>primary</code>: each benchmark at its config's primary "
            "length normalisation (lm-eval's default; per_char where lm-eval reports acc_norm)."
            if norm == "primary"
            else ""
        )
        + "</p>"
        + H.source(["marts.fct_category_transfer"], f"method pearson, length_normalization {norm}")
        + H.figure(name, "Figure 1: cross-stage correlation of accuracy and confidence")
        + H.table(
            tidy(frame, context.scales, ["metric", "category"]).select(
                "scale", "category", "metric", "n_benchmarks", "mean_r"
            )
        )
    )
    body += _per_benchmark_transfer(context, norm)
    return "transfer", "Cross-stage transfer (the paper's Figure 1)", body


def _per_benchmark_transfer(context: Context, norm: str) -> str:
    table = data.cross_stage_transfer(context.con)
    columns = [c for c in ("scale", "category", "benchmark", "metric", "n", "r", "p_value",
                           "q_value", "ci_low", "ci_high") if c in table.columns]  # fmt: skip
    table = table.with_columns((pl.col("p_value") < 0.05).fill_null(False).alias("p_below_05"))
    return (
        "<h3>Per benchmark: n, r, p and 95% CI</h3>"
        + H.source(
            ["marts.fct_cross_stage_transfer"],
            f"method pearson, length_normalization {norm}; p two-sided (t, n−2 df), CI Fisher z, "
            "q Benjamini-Hochberg; shaded rows have p < 0.05",
        )
        + H.table(
            tidy(table, context.scales, ["metric", "category", "benchmark"]),
            columns,
            highlight="p_below_05",
            collapse_over=200,
        )
    )


def coherence_section(context: Context) -> Section:
    norm = data.correlation_normalization(context.con)
    frame = data.by_normalization(context.con, "fct_intra_category_coherence", "scale, category")
    body = H.source(["marts.fct_intra_category_coherence"], f"pearson, normalisation {norm}")
    for metric in ("accuracy", "confidence"):
        panels = [
            (scale, frame.filter((pl.col("scale") == scale) & (pl.col("metric") == metric)))
            for scale in context.scales
        ]
        name = figs.heatmaps(
            panels,
            row="category",
            col="kind",
            value="mean_r",
            out_dir=context.out_dir,
            name=f"coherence_{metric}",
            row_order=CATEGORY_ORDER[:-1],
            col_order=["pt_pt", "sft_sft", "cross"],
        )
        body += H.figure(name, f"Intra-category coherence of {metric}: mean pairwise r")
    sheep = data.by_normalization(context.con, "fct_benchmark_coherence", "scale, category")
    wide = sheep.with_columns((pl.col("metric") + " " + pl.col("kind")).alias("metric_kind"))
    wide = wide.pivot(
        on="metric_kind", index=["scale", "category", "benchmark"], values="mean_r"
    ) if wide.height else wide  # fmt: skip
    body += (
        "<h3>Each benchmark's mean r with the rest of its category (black sheep)</h3>"
        + H.source(
            ["marts.fct_benchmark_coherence"],
            f"mean_r by metric and kind, pearson, normalisation {norm}",
        )
        + H.table(tidy(wide, context.scales, ["category", "benchmark"]))
    )
    return "coherence", "Intra-category coherence", body


def confidence_structure_section(context: Context) -> Section:
    norm = data.correlation_normalization(context.con)
    pairs = data.confidence_pairs(context.con)
    order = (
        pairs.sort("category_a", "benchmark_a")["benchmark_a"].unique(maintain_order=True).to_list()
    )
    panels = [
        (f"{scale} · {'PT' if kind == 'pt_pt' else 'SFT'}",
         pairs.filter((pl.col("scale") == scale) & (pl.col("kind") == kind)))
        for scale in context.scales
        for kind in ("pt_pt", "sft_sft")
    ]  # fmt: skip
    name = figs.heatmaps(
        panels,
        row="benchmark_a",
        col="benchmark_b",
        value="r",
        out_dir=context.out_dir,
        name="confidence_structure",
        row_order=order,
        col_order=order,
        annotate=False,
        ncols=2,
    )
    body = H.source(
        ["marts.fct_benchmark_pair_correlations"],
        f"metric confidence, kinds pt_pt / sft_sft, pearson, normalisation {norm}",
    ) + H.figure(name, "Benchmark x benchmark correlation of confidence over mixtures, PT vs SFT")
    if data.has_mart(context.con, "fct_confidence_structure"):
        summary = data.by_norm_only(context.con, "fct_confidence_structure", "scale, metric")
        body += H.source(
            ["marts.fct_confidence_structure"], "similarity of the PT and SFT upper triangles"
        ) + H.table(tidy(summary, context.scales, ["metric", "length_normalization", "method"]))
    else:
        body += _missing("fct_confidence_structure")
    return "confidence-structure", "Confidence structure: PT vs SFT", body


def alignment_section(context: Context) -> Section:
    norm = data.correlation_normalization(context.con)
    frame = data.by_normalization(context.con, "fct_alignment", "scale, stage, category")
    across = frame.filter(pl.col("variant") == "across_benchmarks")
    name = figs.grouped_bars(
        across,
        panel="scale",
        x="category",
        group="stage",
        value="r_align",
        out_dir=context.out_dir,
        name="alignment",
        x_order=[c for c in CATEGORY_ORDER if c in set(across["category"].to_list())],
        ylabel="r_align: corr(accuracy, confidence)",
        panel_order=context.scales,
    )
    body = (
        "<p>r_align correlates accuracy with confidence across the benchmarks of a category, "
        "per scale, stage and mixture, then averages over mixtures (variant "
        "<code>across_benchmarks</code>); the <code>across_mixtures</code> variant correlates "
        "them per benchmark over mixtures and averages over the category.</p>"
        + H.source(["marts.fct_alignment"], f"pearson, normalisation {norm}")
        + H.figure(name, "r_align by category and stage (variant across_benchmarks)")
        + H.table(tidy(frame, context.scales, ["variant", "category", "stage"]))
    )
    persistence = data.by_normalization(context.con, "fct_alignment_persistence", "scale, category")
    body += (
        "<h3>Persistence: r_align PT vs SFT over mixtures</h3>"
        + H.source(["marts.fct_alignment_persistence"], f"pearson, normalisation {norm}")
        + H.table(tidy(persistence, context.scales, ["category"]))
    )
    return "alignment", "Alignment of accuracy and confidence (r_align)", body


def flips_section(context: Context) -> Section:
    flips = data.item_flips(context.con)
    body = (
        "<p>Each item of each model counted once per stage pair: correct at PT and at SFT, "
        "correct then wrong, wrong then correct, wrong at both; summed over mixtures.</p>"
        + H.source(
            ["marts.fct_item_stage_flips", "marts.dim_benchmarks"],
            "each benchmark at its primary normalisation; mean_r_prob_gold = mean over "
            "mixtures of corr(prob_gold PT, prob_gold SFT) over items",
        )
        + H.table(tidy(flips, context.scales, ["category", "benchmark"]))
    )
    return "flips", "Item-level flips between PT and SFT", body


def mixture_section(context: Context) -> Section:
    norm = data.correlation_normalization(context.con)
    effects = data.by_normalization(
        context.con, "fct_mixture_effects", "scale, stage, metric, category, benchmark"
    )
    contrasts = data.by_norm_only(
        context.con, "fct_web_source_contrasts", "scale, stage, measure, subject"
    )
    ranking = data.by_norm_only(
        context.con, "fct_ranking_agreement", "comparison, scale_a, stage_a, level, subject"
    )
    body = (
        "<h3>Code share vs score, per benchmark</h3>"
        + H.source(["marts.fct_mixture_effects"], f"pearson over mixtures, normalisation {norm}")
        + H.table(tidy(effects, context.scales, ["stage", "metric", "category", "benchmark"]))
        + "<h3>Web-source contrasts (source A − source B, mean over proportions)</h3>"
        + H.source(["marts.fct_web_source_contrasts"], f"normalisation {norm}")
        + H.table(tidy(contrasts, context.scales, ["stage", "measure", "subject"]))
        + "<h3>Ranking agreement of mixtures: PT vs SFT and across scales</h3>"
        + H.source(["marts.fct_ranking_agreement"], f"normalisation {norm}")
        + H.table(tidy(ranking, context.scales, ["comparison", "stage_a", "level", "subject"]))
    )
    return "mixtures", "Mixture effects and ranking agreement", body
