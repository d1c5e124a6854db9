"""`xstage ingest benchmarks|corpus|chat`: thin commands over the ingest library.

Used by: xstage ingest benchmarks [--benchmark ID ...] [--max-rows N] [--overwrite] [--skip-invalid],
xstage ingest corpus ID [--max-docs N], xstage ingest chat ID [--max-examples N].
`--limit` is score's alone (a content-seeded sample); ingest stops early with `--max-*`.
Exit codes: 0 success; 1 invalid data, a missing/unreachable source, or (benchmarks) nothing
requested could be ingested; 2 usage errors (unknown id). Missing benchmarks alone are not fatal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xstage.console import console, stdout

ingest_app = typer.Typer(
    help="Load benchmarks, corpora and chat data into the lake.", no_args_is_help=True
)

Overwrite = Annotated[bool, typer.Option("--overwrite", help="Rewrite leaves that already exist.")]
SkipInvalid = Annotated[
    bool,
    typer.Option(
        "--skip-invalid", help="Write valid rows; record rejected ones in _rejected.json."
    ),
]


def register(app: typer.Typer) -> None:
    """Mount `xstage ingest ...` on the root app."""
    app.add_typer(ingest_app, name="ingest")


def _summary(title: str, results: list) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for column in ("id", "status", "rows", "rejected", "note"):
        table.add_column(column, justify="right" if column in {"rows", "rejected"} else "left")
    colors = {"written": "green", "skipped": "cyan", "missing": "yellow", "failed": "red"}
    for result in results:
        note = _where(result.path) if result.path else ""
        if result.n_rejected:
            note += " (+ _rejected.json)"
        status = Text(result.status, style=colors[result.status])
        table.add_row(result.name, status, str(result.n_rows), str(result.n_rejected), note)
    stdout.print(table)


def _where(path: Path) -> str:
    from xstage.lake import data_dir

    return str(path.relative_to(data_dir())) if path.is_relative_to(data_dir()) else str(path)


def _fail(exc: Exception, code: int = 1) -> typer.Exit:
    console.error(exc)
    return typer.Exit(code)


@ingest_app.command("benchmarks")
def benchmarks(
    benchmark: Annotated[
        list[str] | None,
        typer.Option("--benchmark", "-b", help="Benchmark id (repeatable); default all."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--max-rows", min=1, help="Stop after the first N source rows (a partial leaf)."
        ),
    ] = None,
    overwrite: Overwrite = False,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Convert benchmark splits into lake/benchmark_items (one leaf per benchmark id)."""
    from ingest.benchmark_items import exit_code, ingest_benchmarks
    from ingest.sources import HubUnavailableError
    from xstage.config import ConfigError, list_ids, load_config

    try:
        configs = [load_config("benchmarks", name) for name in benchmark or list_ids("benchmarks")]
    except (ConfigError, ValueError) as exc:
        raise _fail(exc, 2) from None
    try:
        results = ingest_benchmarks(
            configs, limit=limit, overwrite=overwrite, skip_invalid=skip_invalid
        )
    except HubUnavailableError as exc:
        raise _fail(exc) from None
    for result in results:
        if result.status in {"missing", "failed"}:
            label, style = (
                ("missing", "yellow") if result.status == "missing" else ("invalid", "red")
            )
            console.error(f"{result.name}: {result.message}", label=label, style=style)
    _summary("benchmark_items", results)
    raise typer.Exit(exit_code(results))


@ingest_app.command("corpus")
def corpus(
    corpus_id: Annotated[
        str, typer.Argument(metavar="ID", help="Corpus id under configs/corpora/.")
    ],
    max_docs: Annotated[
        int | None, typer.Option(min=1, help="Stop after N kept documents.")
    ] = None,
    overwrite: Overwrite = False,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Write a corpus (after its filters) to lake/documents in bounded parts."""
    from ingest.corpora import ingest_corpus
    from ingest.rejects import InvalidDataError
    from ingest.sources import HubUnavailableError, SourceMissingError
    from xstage.config import ConfigError, load_config
    from xstage.lake_writes import LakeBusy

    try:
        config = load_config("corpora", corpus_id)
    except (ConfigError, ValueError) as exc:
        raise _fail(exc, 2) from None
    try:
        result = ingest_corpus(
            config, max_docs=max_docs, overwrite=overwrite, skip_invalid=skip_invalid
        )
    except (SourceMissingError, HubUnavailableError, InvalidDataError, LakeBusy) as exc:
        raise _fail(exc) from None
    _summary("documents", [result])


@ingest_app.command("chat")
def chat(
    dataset_id: Annotated[
        str, typer.Argument(metavar="ID", help="Chat dataset id under configs/chat/.")
    ],
    limit: Annotated[
        int | None,
        typer.Option("--max-examples", min=1, help="Stop after the first N source examples."),
    ] = None,
    overwrite: Overwrite = False,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Convert an SFT dataset to Tulu-v2 messages in lake/chat_examples."""
    from ingest.chat import ingest_chat
    from ingest.rejects import InvalidDataError
    from ingest.sources import HubUnavailableError, SourceMissingError
    from xstage.config import ConfigError, load_config
    from xstage.lake_writes import LakeBusy

    try:
        config = load_config("chat", dataset_id)
    except (ConfigError, ValueError) as exc:
        raise _fail(exc, 2) from None
    try:
        result = ingest_chat(config, limit=limit, overwrite=overwrite, skip_invalid=skip_invalid)
    except (SourceMissingError, HubUnavailableError, InvalidDataError, LakeBusy) as exc:
        raise _fail(exc) from None
    _summary("chat_examples", [result])
