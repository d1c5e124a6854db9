"""Ingest a text corpus into `lake/documents/corpus=<id>/part-NNNNN.parquet` (bounded parts).

Used by: xstage ingest corpus ID [--max-docs N] [--overwrite] [--skip-invalid].
A corpus either reads a dataset split or is `derived_from` another corpus plus a transform
(the demo's three web sources filter one crawl): the chain is resolved to its root source and
the transforms run root first, so a derived corpus never depends on what was ingested before.
Parts are written into a hidden temp folder that is renamed into place, so readers never see a
half-written corpus.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingest import web_filters
from ingest.benchmark_items import IngestResult
from ingest.rejects import InvalidDataError, Rejects
from ingest.sources import iter_records, load_split, mirror_root, source_label
from xstage import lake, lake_writes
from xstage.config import ConfigError, CorpusConfig, load_config
from xstage.console import progress
from xstage.schemas import DOCUMENTS

log = logging.getLogger(__name__)

# Transform key (a corpus config's `transform`) -> function; text -> text or None (drop).
TRANSFORMS: dict[str, Callable[[str], str | None]] = {
    "minimal_filter": web_filters.minimal_filter,
    "edu_filter": web_filters.edu_filter,
    "quality_filter": web_filters.quality_filter,
}
ID_FIELDS = ("id", "task_id")  # a dataset's own document id, when it has one
PART_MAX_DOCS = 100_000
PART_MAX_CHARS = 256_000_000


def get_transform(name: str) -> Callable[[str], str | None]:
    """The transform registered as `name`; an unknown name is an error listing the known ones."""
    if name not in TRANSFORMS:
        raise ConfigError(
            f"transform={name!r} is not registered; known: {', '.join(sorted(TRANSFORMS))}"
        )
    return TRANSFORMS[name]


def resolve_chain(config: CorpusConfig) -> tuple[CorpusConfig, list[Callable[[str], str | None]]]:
    """The root corpus (the one with a `source`) and the transforms to apply, root first."""
    transforms: list[Callable[[str], str | None]] = []
    seen = {config.id}
    current = config
    while True:
        if current.transform:
            transforms.insert(0, get_transform(current.transform))
        if current.derived_from is None:
            return current, transforms
        if current.derived_from in seen:
            raise ConfigError(
                f"configs/corpora/{config.id}.yaml: field 'derived_from': cycle at {current.derived_from!r}"
            )
        seen.add(current.derived_from)
        current = load_config("corpora", current.derived_from)


def document(root: CorpusConfig, record: dict[str, Any], row: int) -> dict[str, Any]:
    """One documents row (before transforms): joined text fields, id, source, size, hash."""
    parts = []
    for name in root.text_fields:
        value = record.get(name)
        if not isinstance(value, str):
            raise ValueError(f"field {name!r}: expected text, got {type(value).__name__}")
        parts.append(value)
    own_id = next((record[name] for name in ID_FIELDS if isinstance(record.get(name), str)), None)
    assert root.source is not None, "a root corpus has a source"
    return {
        "doc_id": own_id or f"{root.source.split}-{row:06d}",
        "text": root.text_separator.join(parts),
        "source": source_label(root.source),
    }


def iter_documents(
    config: CorpusConfig, max_docs: int | None, rejects_out: list[Rejects]
) -> Iterator[dict[str, Any]]:
    """Yield kept documents in source order; invalid rows go to the Rejects in `rejects_out`."""
    root, transforms = resolve_chain(config)
    assert root.source is not None, "resolve_chain returns a corpus with a source"
    streaming = mirror_root() is None and max_docs is not None
    rejects = Rejects(root.source)
    rejects_out.append(rejects)
    seen: set[str] = set()
    n_kept = 0
    for row, record, problem in iter_records(load_split(root.source, streaming=streaming)):
        if max_docs is not None and n_kept >= max_docs:
            return
        if problem is not None:
            rejects.add(row, *problem)
            continue
        try:
            doc = document(root, record, row)
        except ValueError as exc:
            field, _, reason = str(exc).partition(": ")
            rejects.add(row, field.removeprefix("field ").strip("'"), reason)
            continue
        if not doc["text"].strip():
            rejects.add(row, ",".join(root.text_fields), "empty text")
            continue
        if doc["doc_id"] in seen:
            rejects.add(row, "doc_id", f"duplicate document id {doc['doc_id']!r}")
            continue
        seen.add(doc["doc_id"])
        text: str | None = doc["text"]
        for transform in transforms:
            text = transform(text) if text is not None else None
        if text is None:
            continue
        n_kept += 1
        yield {**doc, "text": text, "n_chars": len(text), "doc_hash": _sha256(text)}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _parts(docs: Iterator[dict[str, Any]], max_docs: int, max_chars: int) -> Iterator[list[dict]]:
    batch: list[dict[str, Any]] = []
    n_chars = 0
    for doc in docs:
        if batch and (len(batch) >= max_docs or n_chars + doc["n_chars"] > max_chars):
            yield batch
            batch, n_chars = [], 0
        batch.append(doc)
        n_chars += doc["n_chars"]
    if batch:
        yield batch


def ingest_corpus(
    config: CorpusConfig,
    *,
    max_docs: int | None = None,
    overwrite: bool = False,
    skip_invalid: bool = False,
    part_max_docs: int = PART_MAX_DOCS,
    part_max_chars: int = PART_MAX_CHARS,
) -> IngestResult:
    """Write a corpus's parts; an existing corpus folder with parts is kept unless `overwrite`.

    Holds the documents writer lock (a second ingest waits, then stops with one line), which
    also sweeps the staging folders of killed ingests.
    """
    with lake_writes.writer_lock(["documents"], "ingest corpus"):
        return _ingest_corpus(
            config, max_docs, overwrite, skip_invalid, part_max_docs, part_max_chars
        )


def _ingest_corpus(
    config: CorpusConfig,
    max_docs: int | None,
    overwrite: bool,
    skip_invalid: bool,
    part_max_docs: int,
    part_max_chars: int,
) -> IngestResult:
    final = lake.documents_dir(config.id)
    existing = sorted(final.glob("part-*.parquet"))
    if existing and not overwrite:
        n_rows = sum(pq.read_metadata(path).num_rows for path in existing)
        return IngestResult(config.id, "skipped", n_rows, path=final, message="corpus exists")
    final.parent.mkdir(parents=True, exist_ok=True)
    # `.<corpus>.<pid>.<random>.tmp`: a later writer sweeps it when this process died
    staging = Path(
        tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".tmp", dir=final.parent)
    )
    try:
        rejects_out: list[Rejects] = []
        n_rows = n_parts = 0
        docs = iter_documents(config, max_docs, rejects_out)
        with progress() as bar:
            task = bar.add_task(f"ingest {config.id}", total=max_docs)
            for n_parts, batch in enumerate(_parts(docs, part_max_docs, part_max_chars), start=1):
                leaf = staging / lake.documents_part_path(config.id, n_parts - 1).name
                lake.write_parquet(pa.Table.from_pylist(batch, schema=DOCUMENTS), leaf, DOCUMENTS)
                n_rows += len(batch)
                bar.update(task, completed=n_rows)
        rejects = rejects_out[0]
        if rejects and not skip_invalid:
            raise rejects.error()
        if n_rows == 0:
            raise InvalidDataError(
                f"corpus {config.id}: no document to write (all filtered or invalid)"
            )
        rejects.write_sidecar(staging / lake.documents_part_path(config.id, 0).name, n_rows)
        _swap_into_place(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("corpus %s: %d documents in %d parts", config.id, n_rows, n_parts)
    return IngestResult(config.id, "written", n_rows, len(rejects), final, f"{n_parts} parts")


def _swap_into_place(staging: Path, final: Path) -> None:
    """Replace `final` by `staging` with renames (the old folder is removed afterwards)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.{os.getpid()}.old.tmp")
        final.rename(old)
    staging.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
