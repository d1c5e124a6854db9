"""Collect rows an ingest cannot use, and either fail naming them or record them in a sidecar.

Used by: xstage ingest benchmarks|corpus|chat (--skip-invalid writes `_rejected.json` beside the
leaf through xstage.lake.rejects_path; without it the first bad row stops that dataset).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from xstage import lake
from xstage.config import DatasetSource

MAX_LISTED = 1000


class InvalidDataError(ValueError):
    """A dataset has rows that cannot be ingested as they are; the message names the first."""


@dataclass
class Rejects:
    """Rejected rows of one dataset split: (row, field, reason) in input order."""

    source: DatasetSource
    rows: list[tuple[int, str, str]] = field(default_factory=list)

    def add(self, row: int, field_name: str, reason: str) -> None:
        """Record that input row `row` was rejected because of `field_name`."""
        self.rows.append((row, field_name, reason))

    def __len__(self) -> int:
        return len(self.rows)

    def describe(self, row: int, field_name: str, reason: str) -> str:
        """One line naming dataset, config, split, row and field."""
        where = f"{self.source.dataset} (config {self.source.config or 'default'})"
        return f"{where} split {self.source.split} row {row} field {field_name!r}: {reason}"

    def error(self) -> InvalidDataError:
        """The error to raise when rejects exist and --skip-invalid was not given."""
        first = self.describe(*self.rows[0])
        more = f" (and {len(self.rows) - 1} more invalid rows)" if len(self.rows) > 1 else ""
        return InvalidDataError(f"{first}{more}; fix the data or pass --skip-invalid")

    def summary(self) -> dict[str, int]:
        """Counts per rejected field, e.g. {'label': 3, 'sol2': 1}."""
        return dict(Counter(field_name for _, field_name, _ in self.rows))

    def write_sidecar(self, leaf: Path, n_written: int) -> Path | None:
        """Write `_rejected.json` beside `leaf` atomically, or remove a stale one if none."""
        path = lake.rejects_path(leaf)
        if not self.rows:
            path.unlink(missing_ok=True)
            return None
        payload = {
            "source": self.source.model_dump(),
            "n_written": n_written,
            "n_rejected": len(self.rows),
            "by_field": self.summary(),
            "rows": [
                {"row": row, "field": name, "reason": reason}
                for row, name, reason in self.rows[:MAX_LISTED]
            ],
        }
        tmp, fd = lake.atomic_path(path)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1, ensure_ascii=False)
        os.replace(tmp, path)
        return path
