"""Failed data tests of `xstage build`, said in words: relation, rule, key values.

Used by: xstage build (warehouse/build.py), after dbt reports a failure and before the build's
unpublished database is dropped: the failing tests run again through `dbt show`, in their
explained form (dbt_project/tests/generic/row_checks.sql, tests/predictions_join_items.sql),
which returns per violated rule its words, its row count and the first offending keys.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# dbt options that locate the project, profile, target and logs: shared by build and show
LOCATING_OPTIONS = ("--project-dir", "--profiles-dir", "--target-path", "--log-path")
LAYERS = {"stg_": "staging", "int_": "intermediate"}
FAILED = {"fail", "error"}


def relation_of(model_name: str) -> str:
    """`schema.model` from the layer prefix (STYLE: stg_ staging, int_ intermediate, else marts)."""
    schema = next((s for prefix, s in LAYERS.items() if model_name.startswith(prefix)), "marts")
    return f"{schema}.{model_name}"


def show_args(build_args: list[str], test_names: list[str]) -> list[str]:
    """`dbt show` of the given tests with the build's project, profile, target and log paths."""
    args = ["show", "--log-level", "none", "--no-use-colors", "--log-level-file", "none"]
    for index, token in enumerate(build_args):
        if token in LOCATING_OPTIONS:
            args += [token, build_args[index + 1]]
    return [*args, "--limit", "50", "--select", *test_names]


def failed_tests(results: list) -> list:
    """Node results of data tests that failed (not models, not unit tests)."""
    return [
        r for r in results
        if r.node.resource_type == "test" and str(r.status).lower() in FAILED
    ]  # fmt: skip


def explain(build_args: list[str], results: list) -> list[str]:
    """One line per violated rule of every failed data test; [] when none can be explained."""
    from dbt.cli.main import dbtRunner

    tests = failed_tests(results)
    if not tests:
        return []
    outcome = dbtRunner().invoke(show_args(build_args, [r.node.name for r in tests]))
    if not outcome.success or outcome.result is None:
        log.info("could not explain the failed tests: %s", outcome.exception)
        return []
    lines = []
    for shown in outcome.result.results:
        table = getattr(shown, "agate_table", None)
        if table is None:
            continue
        rows = [dict(zip(table.column_names, row, strict=True)) for row in table.rows]
        lines += describe(shown.node, rows)
    return lines


def describe(node: object, rows: list[dict]) -> list[str]:
    """Words for the explained rows of one test node."""
    attached = getattr(node, "attached_node", None)
    if attached and rows and "rule" in rows[0]:
        relation = relation_of(attached.split(".")[-1])
        return [
            f"{relation}: {row['n_failures']} {_unit(row)}: {row['rule']}"
            f" (check {row['failed_check']}); first keys: {row['first_keys']}"
            for row in rows
        ]
    lines = []
    for row in rows:
        problem = row.pop("problem", None)
        values = ", ".join(f"{key}={value}" for key, value in row.items())
        lines.append(f"{node.name}: {problem + ': ' if problem else ''}{values}")  # type: ignore[attr-defined]
    return lines


def _unit(row: dict) -> str:
    one = row["n_failures"] == 1
    if str(row["failed_check"]).startswith("unique("):
        return "key" if one else "keys"
    return "row" if one else "rows"
