"""`xstage build`: lake -> dbt (staging, intermediate, marts + tests) -> warehouse.duckdb.

Used by: xstage build [--select SELECTOR ...] [--full-refresh] [--skip-tests] [--force]
[--var NAME=VALUE ...] [--unit-tests].
"""

from __future__ import annotations

from typing import Annotated

import typer


def build(
    select: Annotated[
        list[str] | None,
        typer.Option("--select", "-s", help="dbt selector, repeatable (default: everything)."),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental marts from scratch.")
    ] = False,
    skip_tests: Annotated[
        bool, typer.Option("--skip-tests", help="Models only: no data tests, no unit tests.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Run every model and test, even those no lake change reaches."
        ),
    ] = False,
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            help="dbt var NAME=VALUE (YAML value), repeatable, e.g. last_checkpoints=3.",
        ),
    ] = None,
    unit_tests: Annotated[
        bool,
        typer.Option(
            "--unit-tests",
            help="Also run dbt's unit tests (fixed inputs; they check model code, as make test does).",
        ),
    ] = False,
) -> None:
    """Build warehouse.duckdb with dbt (models and data tests); readers keep working."""
    from warehouse.build import BuildError
    from warehouse.build import build as run_build
    from xstage.config import ConfigError
    from xstage.console import progress, stdout

    try:
        dbt_vars = parse_vars(var or [])
    except ValueError as exc:
        stdout.line(("build failed", "red"), f" {exc}")
        raise typer.Exit(2) from None
    with progress() as bar:
        task = bar.add_task("dbt build", total=None)

        def on_node(name: str, status: str) -> None:
            bar.update(task, advance=1, description=f"dbt build: {name} {status}")

        try:
            result = run_build(
                select or [],
                full_refresh,
                on_node,
                skip_tests=skip_tests,
                force=force,
                dbt_vars=dbt_vars,
                unit_tests=unit_tests,
            )
        except (BuildError, ConfigError) as exc:
            stdout.line(("build failed", "red"), f"\n{exc}")
            raise typer.Exit(1) from None
    if result.up_to_date:
        stdout.print(
            f"{result.path} is up to date: no lake file or model changed since the last build"
        )
        return
    counts = ", ".join(f"{n} {kind}s" for kind, n in sorted(result.counts.items()))
    stdout.print(f"built {result.path} in {result.seconds:.1f} s ({counts})")


def parse_vars(pairs: list[str]) -> dict[str, object]:
    """`NAME=VALUE` strings as a dict, each VALUE read as YAML (`3` is an int, `true` a bool)."""
    import yaml

    from warehouse.build import project_vars

    known = project_vars()
    parsed: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--var {pair!r}: expected NAME=VALUE, e.g. last_checkpoints=3")
        if name.strip() not in known:
            raise ValueError(
                f"--var {name.strip()!r}: not a var of dbt_project.yml ({sorted(known)})"
            )
        parsed[name.strip()] = yaml.safe_load(value)
    return parsed


def register(app: typer.Typer) -> None:
    """Mount `xstage build`."""
    app.command("build")(build)
