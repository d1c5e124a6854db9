"""Convert an SFT dataset into Tulu-v2 `messages` rows: `lake/chat_examples/dataset=<id>/part-0.parquet`.

Used by: xstage ingest chat ID [--max-examples N] [--overwrite] [--skip-invalid].
Alpaca rows become one user turn (instruction, then a blank line and the input when there is
one) and one assistant turn (output); LIMA conversations alternate user/assistant starting with
the user; `messages` rows (Tulu v2) are checked and kept as they are.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.benchmark_items import IngestResult
from ingest.benchmarks.fields import RowError, text, texts
from ingest.rejects import InvalidDataError, Rejects
from ingest.sources import iter_records, load_split, source_label
from xstage import lake, lake_writes
from xstage.config import ChatDatasetConfig
from xstage.schemas import CHAT_EXAMPLES

Message = dict[str, str]


def from_alpaca(row: dict[str, Any]) -> list[Message]:
    """Instruction (+ blank line + input) -> user; output -> assistant."""
    instruction, extra = text(row, "instruction"), text(row, "input")
    user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    if not instruction.strip():
        raise RowError("instruction", "empty text")
    return [
        {"role": "user", "content": user},
        {"role": "assistant", "content": text(row, "output")},
    ]


def from_lima(row: dict[str, Any]) -> list[Message]:
    """conversations[0], [2], ... -> user; [1], [3], ... -> assistant."""
    turns = texts(row, "conversations")
    roles = ("user", "assistant")
    return [{"role": roles[index % 2], "content": turn} for index, turn in enumerate(turns)]


def from_messages(row: dict[str, Any]) -> list[Message]:
    """Tulu-v2 rows: `messages` is already a list of {role, content}."""
    messages = row.get("messages")
    if not isinstance(messages, list):
        raise RowError("messages", "missing" if messages is None else "expected a list")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RowError(f"messages[{index}]", "expected a {role, content} struct")
        for key in ("role", "content"):
            text({f"messages[{index}].{key}": message.get(key)}, f"messages[{index}].{key}")
    return [{"role": message["role"], "content": message["content"]} for message in messages]


FORMATS = {"alpaca": from_alpaca, "lima": from_lima, "messages": from_messages}


def check_messages(messages: list[Message]) -> None:
    """An optional system turn, then user/assistant alternating, ending with the assistant."""
    turns = messages[1:] if messages and messages[0]["role"] == "system" else messages
    if len(turns) < 2:
        raise RowError("messages", f"expected a user and an assistant turn, got {len(turns)} turns")
    for index, message in enumerate(turns):
        expected = ("user", "assistant")[index % 2]
        if message["role"] != expected:
            raise RowError(
                f"messages[{index}].role", f"expected {expected!r}, got {message['role']!r}"
            )
        if not message["content"].strip():
            raise RowError(f"messages[{index}].content", "empty text")
    if turns[-1]["role"] != "assistant":
        raise RowError("messages", "the last turn must be the assistant's")


def example_hash(messages: list[Message]) -> str:
    """sha256 of the messages' canonical JSON (sorted keys, UTF-8, no spaces)."""
    canonical = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def convert_examples(
    config: ChatDatasetConfig, dataset: Any, limit: int | None
) -> tuple[list[dict[str, Any]], Rejects]:
    """Convert every row; a repeated example id is rejected at every occurrence after the first."""
    convert = FORMATS[config.format]
    rejects = Rejects(config.source)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row, record, problem in iter_records(dataset, limit):
        if problem is not None:
            rejects.add(row, *problem)
            continue
        try:
            messages = convert(record)
            check_messages(messages)
        except RowError as exc:
            rejects.add(row, exc.field, exc.reason)
            continue
        own_id = record.get("id")
        example_id = (
            own_id if isinstance(own_id, str) and own_id else f"{config.source.split}-{row:06d}"
        )
        if example_id in seen:
            rejects.add(row, "id", f"duplicate example id {example_id!r}")
            continue
        seen.add(example_id)
        rows.append(
            {
                "example_id": example_id,
                "messages": messages,
                "source": source_label(config.source),
                "example_hash": example_hash(messages),
            }
        )
    return rows, rejects


def ingest_chat(
    config: ChatDatasetConfig,
    *,
    limit: int | None = None,
    overwrite: bool = False,
    skip_invalid: bool = False,
) -> IngestResult:
    """Write one chat dataset's leaf; an existing leaf is kept unless `overwrite`.

    Holds the chat_examples writer lock (a second ingest waits, then stops with one line).
    """
    path = lake.chat_examples_path(config.id)
    with lake_writes.writer_lock(["chat_examples"], "ingest chat"):
        if path.exists() and not overwrite:
            n_rows = pq.read_metadata(path).num_rows
            return IngestResult(config.id, "skipped", n_rows, path=path, message="leaf exists")
        rows, rejects = convert_examples(config, load_split(config.source), limit)
        if rejects and not skip_invalid:
            raise rejects.error()
        if not rows:
            raise InvalidDataError(f"{source_label(config.source)}: no valid example to write")
        table = pa.Table.from_pylist(rows, schema=CHAT_EXAMPLES)
        lake.write_parquet(table, path, CHAT_EXAMPLES)
    rejects.write_sidecar(path, len(rows))
    return IngestResult(config.id, "written", len(rows), len(rejects), path)
