"""Matplotlib figures of the study report, drawn from mart frames and saved as PNG files.

Used by: xstage report [STUDY] (warehouse/report.py calls these; each returns the file name).
Figures only draw what they are given: every number comes from a mart query in report_data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless, before pyplot is imported

import matplotlib.pyplot as plt
import numpy as np
import polars as pl

DPI = 110
STAGE_COLORS = {"pretrain": "#4c72b0", "sft": "#dd8452"}
PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


def _save(fig: plt.Figure, out_dir: Path, name: str) -> str:
    """Write `name`.png into `out_dir` and close the figure; return the file name."""
    file_name = f"{name}.png"
    fig.savefig(out_dir / file_name, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return file_name


def _empty(ax: plt.Axes, message: str = "no rows in the mart") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])


def grouped_bars(
    frame: pl.DataFrame,
    *,
    panel: str,
    x: str,
    group: str,
    value: str,
    out_dir: Path,
    name: str,
    x_order: Sequence[str],
    ylabel: str,
    panel_titles: dict[str, str] | None = None,
    ylim: tuple[float, float] = (-1.0, 1.0),
    group_order: Sequence[str] | None = None,
    panel_order: Sequence[str] | None = None,
) -> str:
    """One panel per `panel` value; bars of `value` at each `x`, one colour per `group`."""
    panels = _ordered(frame[panel].unique().to_list()) if frame.height else ["-"]
    groups = _ordered(frame[group].unique().to_list()) if frame.height else []
    if group_order:
        groups = [value for value in group_order if value in groups]
    if panel_order:
        panels = [value for value in panel_order if value in panels] or panels
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False, layout="constrained"
    )
    for ax, panel_value in zip(axes[0], panels, strict=True):
        rows = frame.filter(pl.col(panel) == panel_value) if frame.height else frame
        if not rows.height:
            _empty(ax)
            continue
        _bars(ax, rows, x, group, value, x_order, groups)
        ax.set_ylim(*ylim)
        ax.set_ylabel(ylabel)
        ax.set_title((panel_titles or {}).get(str(panel_value), str(panel_value)))
        ax.legend(title=group, fontsize=8)
    return _save(fig, out_dir, name)


def _bars(ax, rows: pl.DataFrame, x: str, group: str, value: str, x_order, groups) -> None:
    """Grouped bars on one axis: one bar per group at each x label (NULL = no bar)."""
    width = 0.8 / max(len(groups), 1)
    for index, group_value in enumerate(groups):
        cells = dict(rows.filter(pl.col(group) == group_value).select(x, value).iter_rows())
        heights = [cells.get(label) for label in x_order]
        positions = np.arange(len(x_order)) + (index - (len(groups) - 1) / 2) * width
        ax.bar(
            positions,
            [np.nan if h is None else h for h in heights],
            width,
            label=str(group_value),
            color=STAGE_COLORS.get(str(group_value), PALETTE[index % len(PALETTE)]),
        )
    ax.axhline(0, color="#333", linewidth=0.8)
    ax.set_xticks(np.arange(len(x_order)), x_order, rotation=20)


def heatmaps(
    frames: Sequence[tuple[str, pl.DataFrame]],
    *,
    row: str,
    col: str,
    value: str,
    out_dir: Path,
    name: str,
    row_order: Sequence[str] | None = None,
    col_order: Sequence[str] | None = None,
    vmin: float = -1.0,
    vmax: float = 1.0,
    cmap: str = "RdBu_r",
    annotate: bool = True,
    ncols: int | None = None,
) -> str:
    """Heatmaps, one per (title, frame), of `value` at (`row`, `col`), `ncols` per row."""
    n_panels = max(len(frames), 1)
    ncols = min(ncols or n_panels, n_panels)
    nrows = -(-n_panels // ncols)
    fig_width = max(4.0, 0.42 * _max_cols(frames, col, col_order) + 2.2)
    fig_height = max(2.6, 0.34 * _max_rows(frames, row, row_order) + 1.6)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(fig_width * ncols, fig_height * nrows),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat[len(frames) :]:
        ax.set_axis_off()
    image = None
    for ax, (title, frame) in zip(axes.flat, frames, strict=False):
        ax.set_title(title, fontsize=10)
        if not frame.height:
            _empty(ax)
            continue
        rows = list(row_order or _ordered(frame[row].unique().to_list()))
        cols = list(col_order or _ordered(frame[col].unique().to_list()))
        matrix = _matrix(frame.select(row, col, value), rows, cols)
        image = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
        ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        if annotate and matrix.size <= 120:
            for (i, j), cell in np.ndenumerate(matrix):
                if not np.isnan(cell):
                    ax.text(j, i, f"{cell:.2f}", ha="center", va="center", fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label=value)
    return _save(fig, out_dir, name)


def _matrix(cells: pl.DataFrame, rows: list, cols: list) -> np.ndarray:
    """(row, col, value) triples as a rows x cols array; missing or NULL cells are NaN."""
    matrix = np.full((len(rows), len(cols)), np.nan)
    for r_value, c_value, cell in cells.iter_rows():
        if r_value in rows and c_value in cols and cell is not None:
            matrix[rows.index(r_value), cols.index(c_value)] = cell
    return matrix


def reliability(
    frame: pl.DataFrame,
    *,
    panel: str,
    out_dir: Path,
    name: str,
    panel_order: Sequence[str] | None = None,
) -> str:
    """Reliability diagrams: accuracy vs mean confidence per bin, one line per stage.

    One panel per `panel` value; the frame has panel, stage, mean_confidence, accuracy.
    """
    panels = sorted(frame[panel].unique().to_list()) if frame.height else ["-"]
    if panel_order:
        panels = [value for value in panel_order if value in panels] or panels
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.2 * len(panels), 4.0), squeeze=False, layout="constrained"
    )
    for ax, panel_value in zip(axes[0], panels, strict=True):
        ax.plot([0, 1], [0, 1], linestyle="--", color="#999", linewidth=0.8, label="calibrated")
        rows = frame.filter(pl.col(panel) == panel_value) if frame.height else frame
        if not rows.height:
            _empty(ax)
            continue
        for stage in _ordered(rows["stage"].unique().to_list()):
            line = rows.filter(pl.col("stage") == stage).sort("mean_confidence")
            ax.plot(
                line["mean_confidence"],
                line["accuracy"],
                marker="o",
                markersize=3,
                color=STAGE_COLORS.get(stage, "#333"),
                label=stage,
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("mean confidence in bin")
        ax.set_ylabel("accuracy in bin")
        ax.set_title(str(panel_value))
        ax.legend(fontsize=8)
    return _save(fig, out_dir, name)


def _ordered(values: list) -> list:
    """Stages in training order, scales by size, everything else sorted."""
    order = {"pretrain": 0, "sft": 1, "pt_pt": 0, "sft_sft": 1, "cross": 2}
    return sorted(values, key=lambda value: (order.get(str(value), 9), str(value)))


def _max_cols(frames: Sequence[tuple[str, pl.DataFrame]], col: str, order: Sequence | None) -> int:
    if order:
        return len(order)
    return max((frame[col].n_unique() for _, frame in frames if frame.height), default=1)


def _max_rows(frames: Sequence[tuple[str, pl.DataFrame]], row: str, order: Sequence | None) -> int:
    if order:
        return len(order)
    return max((frame[row].n_unique() for _, frame in frames if frame.height), default=1)
