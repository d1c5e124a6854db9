"""Small HTML builders for the study report: escaped tables, sections, the page shell.

Used by: xstage report [STUDY] (warehouse/report.py assembles the page from these).
No templates engine: every value passes through html.escape, numbers through one formatter.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import polars as pl

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1180px; color: #222; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { margin-top: 2.4rem; font-size: 1.25rem;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
h3 { font-size: 1.02rem; margin-top: 1.4rem; }
.source { color: #555; font-size: 0.85rem; } .source code { background: #f3f3f3; }
.banner { background: #fff4d6; border: 1px solid #e8c66a; padding: 0.7rem 1rem; margin: 1rem 0; }
table { border-collapse: collapse; font-size: 0.82rem; margin: 0.6rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: 0.18rem 0.5rem; text-align: right; }
th { background: #f5f5f5; } td.text, th.text { text-align: left; }
tr.signif td { background: #eef6ee; }
figure { margin: 0.8rem 0 1.4rem; } figure img { max-width: 100%; height: auto;
         border: 1px solid #eee; } figcaption { font-size: 0.85rem; color: #444; }
nav ul { columns: 2; font-size: 0.9rem; } .muted { color: #777; }
.scroll { overflow-x: auto; } summary { cursor: pointer; color: #245; margin: 0.4rem 0; }
"""


def esc(value: object) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(value), quote=True)


def fmt(value: object, digits: int = 3) -> str:
    """Numbers with `digits` decimals (p-values in scientific form when tiny), NULL as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and abs(value) < 10**-digits:
            return f"{value:.1e}"
        return f"{value:.{digits}f}"
    return str(value)


def table(
    frame: pl.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    highlight: str | None = None,
    max_rows: int = 400,
    collapse_over: int = 40,
) -> str:
    """An HTML table of `frame`; rows where the boolean column `highlight` is true are shaded."""
    columns = list(columns or frame.columns)
    if not frame.height:
        return '<p class="muted">No rows.</p>'
    text_columns = {name for name in columns if frame.schema[name] in (pl.Utf8, pl.String)}
    head = "".join(
        f'<th class="{"text" if name in text_columns else ""}">{esc(name)}</th>' for name in columns
    )
    body = []
    for row in frame.head(max_rows).iter_rows(named=True):
        cells = "".join(
            f'<td class="{"text" if name in text_columns else ""}">{esc(fmt(row[name]))}</td>'
            for name in columns
        )
        shaded = ' class="signif"' if highlight and row.get(highlight) else ""
        body.append(f"<tr{shaded}>{cells}</tr>")
    more = ""
    if frame.height > max_rows:
        more = f'<p class="muted">First {max_rows} of {frame.height} rows.</p>'
    markup = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    markup = f'<div class="scroll">{markup}</div>{more}'
    if frame.height > collapse_over:
        return f"<details><summary>{frame.height} rows (expand)</summary>{markup}</details>"
    return markup


def figure(file_name: str, caption: str) -> str:
    """An <img> of a figure file beside index.html, with its caption."""
    return (
        f'<figure><img src="{esc(file_name)}" alt="{esc(caption)}" loading="eager">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def source(marts: Sequence[str], detail: str = "") -> str:
    """The line under each section naming the marts (and filters) its numbers come from."""
    names = ", ".join(f"<code>{esc(name)}</code>" for name in marts)
    extra = f" — {esc(detail)}" if detail else ""
    return f'<p class="source">Source: {names}{extra}</p>'


def section(anchor: str, title: str, body: str) -> str:
    """One titled section with an anchor for the table of contents."""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def page(title: str, header: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document: title, header block, contents list, then (anchor, title, body)."""
    toc = "".join(f'<li><a href="#{esc(a)}">{esc(t)}</a></li>' for a, t, _ in sections)
    body = "".join(section(a, t, b) for a, t, b in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>{header}<nav><ul>{toc}</ul></nav>{body}</body></html>\n"
    )
