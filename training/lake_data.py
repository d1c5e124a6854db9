"""Read what ingest wrote: corpus documents and chat examples from the lake.

Used by: xstage train (mixture corpora), xstage sft (chat data), xstage tokenizer train.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from xstage import lake


def _document_parts(corpus: str) -> list:
    directory = lake.documents_dir(corpus)
    return sorted(directory.glob("part-*.parquet"))


def iter_document_batches(corpus: str, batch_size: int = 8192) -> Iterator[list[str]]:
    """Non-empty texts of a corpus in lake order (part files, then rows), a batch at a time.

    Streams the Parquet parts, so a paper-size corpus never has to fit in memory.

    Raises:
        FileNotFoundError: the corpus has no documents in the lake (names the ingest command).
    """
    parts = _document_parts(corpus)
    found = False
    for part in parts:
        for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_size, columns=["text"]):
            texts = [text for text in batch.column("text").to_pylist() if text]
            if texts:
                found = True
                yield texts
    if not found:
        where = lake.documents_dir(corpus)
        state = "holds no documents" if parts else "does not exist"
        raise FileNotFoundError(
            f"corpus {corpus!r} has no documents in the lake ({where} {state}); "
            f"run `xstage ingest corpus {corpus}` first"
        )


def read_documents(corpus: str, max_docs: int | None = None) -> list[str]:
    """The first `max_docs` (default: all) non-empty texts of a corpus, in lake order."""
    texts: list[str] = []
    for batch in iter_document_batches(corpus):
        texts.extend(batch)
        if max_docs is not None and len(texts) >= max_docs:
            return texts[:max_docs]
    return texts


def documents_fingerprint(corpus: str) -> str:
    """Names, sizes and mtimes of a corpus's part files: changes when ingest rewrites them."""
    parts = _document_parts(corpus)
    return ";".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in parts)


def read_chat_examples(dataset: str) -> list[tuple[str, list[dict[str, str]]]]:
    """(example_id, messages) pairs of one chat dataset; fails clearly when it is missing."""
    path = lake.chat_examples_path(dataset)
    if not path.is_file():
        raise FileNotFoundError(
            f"chat dataset {dataset!r} is not in the lake ({path} does not exist); "
            f"run `xstage ingest chat {dataset}` first"
        )
    table: pa.Table = pq.read_table(path, columns=["example_id", "messages"])
    rows = zip(
        table.column("example_id").to_pylist(), table.column("messages").to_pylist(), strict=True
    )
    examples = [(example_id, messages) for example_id, messages in rows]
    if not examples:
        raise FileNotFoundError(f"chat dataset {dataset!r} has no examples in {path}")
    return examples
