"""The study report: one HTML page with the paper's figures and tables, read from the marts.

Used by: xstage report [STUDY] -> <data>/reports/<study>/index.html (PNG figures beside it), and
the last step of xstage run STUDY. Reads only `marts.*` of warehouse.duckdb, read-only; each
section names the marts its numbers come from. Licences come from the benchmark configs.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from warehouse import report_data as data
from warehouse import report_decisions as decisions
from warehouse import report_html as H
from warehouse import report_scores as scores
from warehouse import report_sections as sections
from xstage import lake

log = logging.getLogger(__name__)

# Page order: the verdict first, the paper's Figure 1 next, licences last.
SECTIONS = [
    scores.above_chance_section,
    sections.transfer_section,
    decisions.trust_section,
    sections.coherence_section,
    sections.confidence_structure_section,
    sections.alignment_section,
    scores.accuracy_section,
    scores.reliability_section,
    sections.flips_section,
    sections.mixture_section,
    scores.licences_section,
]


def write_report(study: str, warehouse: Path | None = None) -> Path:
    """Write `<data>/reports/<study>/index.html` and its figures; return the page's path.

    The page and figures are written to a temp folder that replaces the old one, so a reader
    never sees a half-written report.
    """
    warehouse = warehouse or lake.warehouse_path()
    out = lake.reports_dir(study)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{study}.", suffix=".tmp", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a report is for reading
    try:
        with data.connect(warehouse) as con:
            page = build_page(con, study, warehouse, staging)
        (staging / "index.html").write_text(page, encoding="utf-8")
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("report: %s", out / "index.html")
    return out / "index.html"


def _swap(staging: Path, out: Path) -> None:
    """Replace `out` by `staging` (rename the old one aside first, then drop it)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old.{os.getpid()}")
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_page(con, study: str, warehouse: Path, out_dir: Path) -> str:
    """Assemble the page: header with the chance verdict, then every section in order."""
    scales = data.scale_order(con)
    context = sections.Context(con=con, out_dir=out_dir, scales=scales, study=study)
    parts = [builder(context) for builder in SECTIONS]
    header = _header(study, warehouse, context)
    title = f"xstage report: {study}"
    return H.page(title, header, [part for part in parts if part is not None])


def _header(study: str, warehouse: Path, context: sections.Context) -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = scores.chance_verdict(context)
    return (
        f'<p class="source">Study <code>{H.esc(study)}</code> · warehouse '
        f"<code>{H.esc(warehouse)}</code> · generated {generated}. Every number on this page "
        "is read from a mart of the warehouse (named under each section); nothing is computed "
        "from the lake here.</p>"
        f'<div class="banner">{verdict}</div>'
    )


def category_summary(warehouse: Path | None = None) -> list[dict]:
    """Mean r_acc and r_conf per category and scale, from marts.fct_category_transfer.

    Pearson, at the report's normalisation (`primary` where the marts carry it, else `none`);
    rows of scale, category, metric, length_normalization, mean_r.
    """
    with data.connect(warehouse or lake.warehouse_path()) as con:
        frame = data.category_transfer(con)
    frame = frame.filter(pl.col("method") == "pearson")
    return frame.select("scale", "category", "metric", "length_normalization", "mean_r").to_dicts()
