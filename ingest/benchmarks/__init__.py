"""Benchmark converters: one module per dataset family, from hub rows to benchmark items.

Used by: xstage ingest benchmarks. CONVERTERS maps a config's `converter` key to its function
(the converter modules are plain Python, cheap to import together).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingest.benchmarks import arc, glue, hellaswag, piqa, sciq, social_iqa, super_glue, winogrande
from ingest.benchmarks.fields import RawItem

Converter = Callable[[dict[str, Any]], RawItem]
CONVERTERS: dict[str, Converter] = {
    "arc": arc.convert_arc,
    "openbookqa": arc.convert_openbookqa,
    "commonsense_qa": arc.convert_commonsense_qa,
    "sciq": sciq.convert_sciq,
    "piqa": piqa.convert_piqa,
    "hellaswag": hellaswag.convert_hellaswag,
    "winogrande": winogrande.convert_winogrande,
    "social_iqa": social_iqa.convert_social_iqa,
    "boolq": super_glue.convert_boolq,
    "cb": super_glue.convert_cb,
    "rte": super_glue.convert_rte,
    "wic": super_glue.convert_wic,
    "wsc": super_glue.convert_wsc,
    "copa": super_glue.convert_copa,
    "multirc": super_glue.convert_multirc,
    "qnli": glue.convert_qnli,
    "mnli": glue.convert_mnli,
    "qqp": glue.convert_qqp,
    "mrpc": glue.convert_mrpc,
}


def get_converter(name: str) -> Converter:
    """The converter registered as `name`; an unknown name is an error listing the known ones."""
    if name not in CONVERTERS:
        raise ValueError(
            f"converter={name!r} is not registered; known: {', '.join(sorted(CONVERTERS))}"
        )
    return CONVERTERS[name]
