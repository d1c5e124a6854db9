"""Benchmark converters: one module per dataset family, from hub rows to benchmark items.

Used by: xstage ingest benchmarks. CONVERTERS maps a config's `converter` key to
"module:function"; the module is imported only when that benchmark is ingested.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ingest.benchmarks.fields import RawItem

CONVERTERS: dict[str, str] = {
    "arc": "ingest.benchmarks.arc:convert_arc",
    "openbookqa": "ingest.benchmarks.arc:convert_openbookqa",
    "commonsense_qa": "ingest.benchmarks.arc:convert_commonsense_qa",
    "sciq": "ingest.benchmarks.sciq:convert_sciq",
    "piqa": "ingest.benchmarks.piqa:convert_piqa",
    "hellaswag": "ingest.benchmarks.hellaswag:convert_hellaswag",
    "winogrande": "ingest.benchmarks.winogrande:convert_winogrande",
    "social_iqa": "ingest.benchmarks.social_iqa:convert_social_iqa",
    "boolq": "ingest.benchmarks.super_glue:convert_boolq",
    "cb": "ingest.benchmarks.super_glue:convert_cb",
    "rte": "ingest.benchmarks.super_glue:convert_rte",
    "wic": "ingest.benchmarks.super_glue:convert_wic",
    "wsc": "ingest.benchmarks.super_glue:convert_wsc",
    "copa": "ingest.benchmarks.super_glue:convert_copa",
    "multirc": "ingest.benchmarks.super_glue:convert_multirc",
    "qnli": "ingest.benchmarks.glue:convert_qnli",
    "mnli": "ingest.benchmarks.glue:convert_mnli",
    "qqp": "ingest.benchmarks.glue:convert_qqp",
    "mrpc": "ingest.benchmarks.glue:convert_mrpc",
}

Converter = Callable[[dict[str, Any]], RawItem]


def get_converter(name: str) -> Converter:
    """Import and return the converter registered as `name`."""
    if name not in CONVERTERS:
        raise ValueError(
            f"converter={name!r} is not registered; known: {', '.join(sorted(CONVERTERS))}"
        )
    module, _, attr = CONVERTERS[name].partition(":")
    return getattr(importlib.import_module(module), attr)
