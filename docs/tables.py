"""Generate the docs' tables from their sources, so they cannot drift from the code.

Used by: `python docs/tables.py` (rewrite the tables in place) and `python docs/tables.py --check`
(exit 1 naming each stale table; tests/xstage/test_docs.py runs it). The benchmark table comes
from the configs `xstage ls benchmarks` lists plus the offline mirror's INDEX.json (row counts);
the mart table from the model `.yml` files dbt reads into its manifest (name, primary key, grain).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from xstage.config import list_ids, load_config

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
MARTS = REPO / "dbt_project" / "models" / "marts"
CATEGORY_ORDER = ("commonsense", "science", "nli", "semantic")
BEGIN = "<!-- generated: {name} (python docs/tables.py); do not edit by hand -->"
END = "<!-- end generated: {name} -->"


def _mirror_rows() -> dict[tuple[str, str, str], int]:
    """(dataset, config, split) -> rows held offline, from $XSTAGE_HF_MIRROR/INDEX.json."""
    mirror = Path(os.environ.get("XSTAGE_HF_MIRROR", REPO.parent / "shared" / "hf_mirror"))
    index = json.loads((mirror / "INDEX.json").read_text())
    return {(f["id"], f["config"], f["split"]): f["rows"] for f in index["files"]}


def benchmark_table() -> str:
    """One row per benchmark config, by category, the reference study's named ones first."""
    rows = _mirror_rows()
    configs = [load_config("benchmarks", name) for name in list_ids("benchmarks")]
    study_order = {"named": 0, "assumed": 1}
    configs.sort(
        key=lambda c: (
            CATEGORY_ORDER.index(c.category),
            c.formulation != "rc",
            study_order.get(c.in_reference_study, 2),
            c.id,
        )
    )
    lines = [
        "| id | category | source (dataset / config / split) | form | primary norm | chance "
        "| in study | offline rows |",
        "|---|---|---|---|---|---:|---|---:|",
    ]
    for c in configs:
        source = c.source
        config = source.config or "default"
        offline = rows.get((source.dataset, config, source.split), "hub only")
        in_study = c.in_reference_study if c.formulation == "rc" else "variant"
        lines.append(
            f"| `{c.id}` | {c.category} | `{source.dataset}` / {source.config or '-'} / "
            f"{source.split} | {c.formulation} | {c.primary_normalization} | "
            f"{c.chance_accuracy:.3g} | {in_study} | {offline} |"
        )
    return "\n".join(lines)


def _grain(description: str) -> str:
    """The first sentence of a model description, which states its grain (STYLE §2.8)."""
    first = re.split(r"(?<=[a-z0-9_)])\.\s|:\s", " ".join(description.split()), maxsplit=1)[0]
    return first.removeprefix("One row per ").rstrip(".")


def _primary_key(model: dict) -> str:
    for test in model.get("data_tests", []):
        if isinstance(test, dict) and "row_checks" in test:
            return ", ".join(test["row_checks"].get("arguments", {}).get("unique_key", []))
    return ""


def mart_table() -> str:
    """One row per mart: name, primary key and grain, from dbt_project/models/marts/*.yml."""
    lines = ["| mart | one row per | primary key |", "|---|---|---|"]
    for path in sorted(MARTS.glob("*.yml")):
        for model in yaml.safe_load(path.read_text())["models"]:
            grain = _grain(model.get("description", ""))
            lines.append(f"| `{model['name']}` | {grain} | {_primary_key(model)} |")
    return "\n".join(lines)


# Which page holds which generated table.
TABLES: dict[str, tuple[str, Callable[[], str]]] = {
    "benchmarks": ("ingest.md", benchmark_table),
    "marts": ("warehouse.md", mart_table),
}


def render(text: str, name: str, table: str) -> str:
    """`text` with the block between the markers of `name` replaced by `table`."""
    begin, end = BEGIN.format(name=name), END.format(name=name)
    head, found, rest = text.partition(begin + "\n")
    assert found, f"docs: no '{begin}' marker"
    _, found, tail = rest.partition(end)
    assert found, f"docs: no '{end}' marker"
    return f"{head}{begin}\n{table}\n{end}{tail}"


def stale_tables(write: bool) -> list[str]:
    """Names of the tables whose page differs from the source (rewritten when `write`)."""
    stale = []
    for name, (page, make) in TABLES.items():
        path = DOCS / page
        text = path.read_text()
        fresh = render(text, name, make())
        if fresh != text:
            stale.append(f"{page}: table '{name}'")
            if write:
                tmp = path.with_suffix(".md.tmp")
                tmp.write_text(fresh)
                tmp.replace(path)
    return stale


def main(argv: list[str]) -> int:
    """Rewrite the tables, or with --check report stale ones and exit 1."""
    check = "--check" in argv
    stale = stale_tables(write=not check)
    for line in stale:
        print(f"{'stale' if check else 'rewrote'} {line}")
    if check and stale:
        print("run: python docs/tables.py")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
