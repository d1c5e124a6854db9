"""Load one (dataset, config, split) through `datasets`, from the hub or from $XSTAGE_HF_MIRROR.

Used by: xstage ingest benchmarks | corpus | chat. With XSTAGE_HF_MIRROR set, an id resolves to
`<mirror>/<org>__<name>/<config or default>/<split>.parquet` (legacy ids through INDEX.json
aliases) and is read with `load_dataset("parquet", data_files=...)`; otherwise the hub id is read
directly. Either way the caller gets a `datasets` object with the hub's field names.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from xstage.config import DatasetSource

log = logging.getLogger(__name__)

MIRROR_ENV = "XSTAGE_HF_MIRROR"
_TRUE = {"1", "true", "yes", "on"}


class SourceMissingError(RuntimeError):
    """One (dataset, config, split) cannot be found; the message is one line saying how to get it."""


class HubUnavailableError(RuntimeError):
    """No mirror and no reachable hub: nothing can be loaded, so the command stops at once."""


def source_label(source: DatasetSource) -> str:
    """`dataset:config:split`, the `source` column of lake rows and the name in messages."""
    return f"{source.dataset}:{source.config or 'default'}:{source.split}"


def mirror_root() -> Path | None:
    """The mirror folder from $XSTAGE_HF_MIRROR, or None when unset/empty."""
    raw = os.environ.get(MIRROR_ENV, "").strip()
    return Path(raw).expanduser().resolve() if raw else None


@cache
def _aliases(root: Path) -> dict[str, str]:
    index = root / "INDEX.json"
    if not index.is_file():
        return {}
    return dict(json.loads(index.read_text(encoding="utf-8")).get("aliases", {}))


def mirror_path(source: DatasetSource, root: Path) -> Path:
    """Where the mirror keeps `source`: `<root>/<org>__<name>/<config|default>/<split>.parquet`."""
    dataset = _aliases(root).get(source.dataset, source.dataset)
    for part in (dataset, source.config or "default", source.split):
        # Ids come from validated configs, but a mirror path must never climb out of the mirror.
        if ".." in part.split("/") or part.startswith("/"):
            raise ValueError(f"{source_label(source)}: refusing path component {part!r}")
    folder = dataset.replace("/", "__")
    return root / folder / (source.config or "default") / f"{source.split}.parquet"


def load_split(source: DatasetSource, *, streaming: bool = False) -> Any:
    """Load one split as a `datasets.Dataset` (an `IterableDataset` when streaming from the hub).

    Raises:
        SourceMissingError: the mirror lacks the file, or the hub lacks the dataset.
        HubUnavailableError: no mirror is set and the hub is offline or unreachable.
    """
    import datasets

    root = mirror_root()
    if root is not None:
        path = mirror_path(source, root)
        if not path.is_file():
            raise SourceMissingError(
                f"{source_label(source)}: not in the mirror ({path} is missing); get it by "
                f"unsetting {MIRROR_ENV} on a machine with hub access, or add that file to the mirror"
            )
        log.debug("loading %s from %s", source_label(source), path)
        _check_mirror_file(path)
        data_files = {source.split: str(path)}
        datasets.disable_progress_bars()  # "Generating split" bars for a local file are noise
        return datasets.load_dataset("parquet", data_files=data_files, split=source.split)
    _check_hub_reachable()
    try:
        return datasets.load_dataset(
            source.dataset, source.config, split=source.split, streaming=streaming
        )
    except (FileNotFoundError, ValueError, ConnectionError) as exc:
        if _offline():
            raise HubUnavailableError(
                _no_hub_message("HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set")
            ) from exc
        raise SourceMissingError(
            f"{source_label(source)}: not loadable from the hub: {exc}"
        ) from exc


def _check_mirror_file(path: Path) -> None:
    """Refuse a mirror file that is not readable Parquet or has no rows, in one line."""
    import pyarrow.parquet as pq

    from ingest.rejects import InvalidDataError

    try:
        n_rows = pq.read_metadata(path).num_rows
    except (OSError, pa.ArrowException) as exc:
        raise InvalidDataError(
            f"{path}: not a readable Parquet file ({exc}); replace it with a fresh copy"
        ) from None
    if n_rows == 0:
        raise InvalidDataError(f"{path}: the mirror file has 0 rows; replace it with a fresh copy")


def _offline() -> bool:
    return any(
        os.environ.get(name, "").lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _no_hub_message(reason: str) -> str:
    return (
        f"no {MIRROR_ENV} set and the Hugging Face hub is unavailable ({reason}): "
        f"set {MIRROR_ENV}=<mirror dir> (e.g. ../shared/hf_mirror) to read data offline"
    )


@cache
def _check_hub_reachable() -> None:
    """Probe the hub once per process (5 s timeout) so an air-gapped run stops in seconds."""
    if _offline():
        # Offline mode may still be served by the local datasets cache; load_split decides.
        return
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=5)
    except urllib.error.HTTPError:
        return  # the server answered: reachable
    except (urllib.error.URLError, OSError) as exc:
        raise HubUnavailableError(_no_hub_message(f"{endpoint}: {exc}")) from None


def arrow_table(dataset: Any) -> pa.Table:
    """The in-memory Arrow table behind a (non-streaming) `datasets.Dataset`."""
    table = dataset.data
    return table.table if hasattr(table, "table") else table


def iter_records(
    dataset: Any, limit: int | None = None
) -> Iterator[tuple[int, dict[str, Any] | None, tuple[str, str] | None]]:
    """Yield `(row, record, None)` or `(row, None, (field, reason))` for undecodable text.

    Strings are decoded column by column; a column that holds invalid UTF-8 (undecodable bytes,
    or surrogates encoded as bytes) is decoded row by row so the bad row and field are named.
    Streaming datasets yield Python dicts; their strings are checked for lone surrogates.
    """
    if not hasattr(dataset, "data"):
        for row, record in enumerate(dataset):
            if limit is not None and row >= limit:
                return
            problem = find_bad_text(record)
            yield (row, None, problem) if problem else (row, record, None)
        return
    table = arrow_table(dataset)
    if limit is not None:
        table = table.slice(0, limit)
    for offset in range(0, table.num_rows, 8192):
        yield from _decode_batch(table.slice(offset, 8192), offset)


def _decode_batch(table: pa.Table, offset: int) -> Iterator[tuple[int, Any, Any]]:
    columns: dict[str, list[Any]] = {}
    problems: dict[int, tuple[str, str]] = {}
    for name in table.column_names:
        column = table.column(name)
        try:
            columns[name] = column.to_pylist()
        except UnicodeDecodeError:
            values = []
            for index in range(len(column)):
                try:
                    values.append(column.slice(index, 1).to_pylist()[0])
                except UnicodeDecodeError as exc:
                    values.append(None)
                    problems.setdefault(index, (name, f"not valid UTF-8 text ({exc.reason})"))
            columns[name] = values
    for index in range(table.num_rows):
        if index in problems:
            yield offset + index, None, problems[index]
        else:
            yield offset + index, {name: values[index] for name, values in columns.items()}, None


def find_bad_text(value: Any, field: str = "") -> tuple[str, str] | None:
    """Return `(field, reason)` for the first string that is not encodable UTF-8, else None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return field or "(value)", f"not valid UTF-8 text ({exc.reason})"
        return None
    if isinstance(value, (bytes, bytearray)):
        return field or "(value)", "bytes where text was expected"
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = ((f"[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for key, item in items:
        name = f"{field}{key}" if str(key).startswith("[") else (f"{field}.{key}" if field else key)
        problem = find_bad_text(item, name)
        if problem:
            return problem
    return None
