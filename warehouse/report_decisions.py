"""Report section: which benchmarks' transfer signal to trust, and which PT metric predicts SFT.

Used by: xstage report [STUDY] (warehouse/report.py runs it after the transfer sections). The
ranking is the named query `transfer_trust` (warehouse/queries/transfer_trust.sql), so
`xstage query transfer_trust` shows the same table; definitions in docs/metrics_decisions.md.
"""

from __future__ import annotations

import polars as pl

from warehouse import report_data as data
from warehouse import report_html as H
from warehouse.queries import named_queries
from warehouse.report_sections import Context, Section, tidy

NEEDED = ("fct_transfer_uncertainty", "fct_checkpoint_noise", "fct_best_pt_metric")
TRUST_COLUMNS = [
    "trust_rank", "scale", "category", "benchmark", "n_mixtures", "r", "r_fisher_low",
    "r_fisher_high", "r_boot_low", "r_boot_high", "snr_pretrain", "snr_sft",
    "decision_accuracy", "decision_accuracy_boot_low", "decision_accuracy_boot_high",
]  # fmt: skip


def trust_table(context: Context, metric: str = "accuracy") -> pl.DataFrame:
    """The `transfer_trust` named query's rows for `metric`."""
    sql = named_queries()["transfer_trust"].sql
    return data.query(context.con, sql, metric=metric)


def best_pt_metrics(context: Context) -> pl.DataFrame:
    """Per scale x benchmark, the PT metric whose ranking best predicts the SFT accuracy ranking."""
    return data.query(
        context.con,
        "select scale, benchmark, metric as best_pt_metric, length_normalization,"
        " decision_accuracy, n_agree, n_disagree, n_tied"
        " from marts.fct_best_pt_metric where is_best order by scale, benchmark",
    )


def trust_section(context: Context) -> Section:
    """Benchmarks ranked by how far their PT -> SFT accuracy transfer survives noise."""
    missing = [name for name in NEEDED if not data.has_mart(context.con, name)]
    if missing:
        body = "".join(
            f'<p class="muted">Mart <code>marts.{H.esc(n)}</code> is not in the warehouse.</p>'
            for n in missing
        )
        return "trust", "Which transfer signals to trust", body
    trust = trust_table(context)
    resamples = data.query(
        context.con, "select max(bootstrap_resamples) as b from marts.fct_transfer_uncertainty"
    )["b"].to_list()
    body = (
        "<p>Per scale, benchmarks ranked by how well their PT &rarr; SFT accuracy transfer "
        "would survive another sample of items or another checkpoint: first those whose "
        "item-bootstrap 95% interval of r excludes 0, then by the smaller of the PT and SFT "
        "signal-to-noise ratios (signal: relative spread of the mixtures' scores; noise: "
        "relative standard deviation over each run's last checkpoints; NULL with one checkpoint "
        "per run, <code>inf</code> when the checkpoints do not move the score at all), then by "
        "the narrower bootstrap interval. Decision accuracy: the share of mixture pairs that "
        "PT and SFT order alike.</p>"
        + H.source(
            ["marts.fct_transfer_uncertainty", "marts.fct_checkpoint_noise"],
            f"named query transfer_trust, metric accuracy, each benchmark at its primary "
            f"normalisation; B = {resamples[0] if resamples else 'n/a'} item resamples",
        )
        + H.table(tidy(trust, context.scales, ["trust_rank"]), TRUST_COLUMNS, collapse_over=60)
        + "<h3>Which PT metric best predicts the SFT ranking</h3>"
        + H.source(
            ["marts.fct_best_pt_metric"],
            "decision accuracy of each PT metric and normalisation against SFT accuracy at the "
            "primary normalisation; the best per scale and benchmark",
        )
        + H.table(tidy(best_pt_metrics(context), context.scales, ["benchmark"]))
    )
    return "trust", "Which transfer signals to trust", body
