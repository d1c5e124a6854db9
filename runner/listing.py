"""Tables for `xstage ls KIND`: configs by kind, and runs recorded in the lake.

Used by: xstage ls benchmarks|corpora|mixtures|scales|recipes|studies|runs.
"""

from __future__ import annotations

import pyarrow.parquet as pq
from rich.table import Table

from runner.study_config import CONFIG_KINDS
from xstage import lake
from xstage.config import config_dir, kind_class, list_ids, load_file

# Which fields of each config kind `ls` shows, after the id.
COLUMNS: dict[str, list[str]] = {
    "benchmarks": ["display_name", "category", "formulation", "n_fewshot", "chance_accuracy"],
    "corpora": ["display_name", "kind", "transform"],
    "mixtures": ["display_name", "study", "web_source", "proportions"],
    "scales": ["n_params_nominal", "n_layer", "d_model", "vocab_size"],
    "recipes": ["stage", "description"],
    "studies": ["description"],
    "chat": ["display_name", "format", "license"],
}
RUN_COLUMNS = ["run_id", "stage", "scale", "mixture", "seed", "origin", "checkpoint_step"]


def list_table(kind: str) -> Table:
    """A rich table listing every config of `kind`, or every run in the lake for `runs`."""
    if kind == "runs":
        return _runs_table()
    table = Table(title=kind)
    columns = COLUMNS.get(kind, [])
    for name in ["id", *columns]:
        table.add_column(name)
    for config_id in list_ids(kind):
        config = load_file(
            config_dir() / kind / f"{config_id}.yaml", kind_class(kind, CONFIG_KINDS)
        )
        values = [str(getattr(config, name, "")) for name in columns]
        table.add_row(config_id, *values)
    return table


def _runs_table() -> Table:
    table = Table(title="runs")
    for name in RUN_COLUMNS:
        table.add_column(name)
    for path in sorted(lake.table_dir("runs").glob("part-*.parquet")):
        for row in pq.read_table(path, columns=RUN_COLUMNS).to_pylist():
            table.add_row(*(str(row[name]) for name in RUN_COLUMNS))
    return table
