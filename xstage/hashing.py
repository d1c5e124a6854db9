"""Content hashes shared by every writer of benchmark_items (ingest and import).

Used by: xstage ingest benchmarks (item_hash of each item) and xstage import, so the same item
hashes alike across sources, harnesses and shot counts (DESIGN §10: cross-source matching uses
item_hash of normalised text).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

FEWSHOT_DELIMITER = "\n\n"


def normalize_text(text: str) -> str:
    """NFKC, whitespace runs collapsed to one space, stripped, case-folded."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def item_hash(query: str, choices: list[str], continuation: str | None = None) -> str:
    """sha256 of the normalised last query block (few-shot examples removed) and answer texts.

    Partial-scoring items add their shared continuation. The gold index is not part of the hash:
    it identifies the question, not its label.
    """
    block = query.rsplit(FEWSHOT_DELIMITER, 1)[-1]
    canonical = json.dumps(
        {
            "query": normalize_text(block),
            "choices": [normalize_text(choice) for choice in choices],
            "continuation": normalize_text(continuation or ""),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
