"""Turn harness log-likelihood samples into lake rows (xstage import lm-eval|lighteval).

Both harnesses log, per item, one (context, continuation) request per choice with its summed
log-prob and greedy flag; this module checks a sample's shape and builds benchmark_items,
predictions and imported_metrics rows from it. Token counts are not in either log: n_tokens is 0
("not known") unless --tokenizer gives the model's tokenizer (importers/tokens.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from importers.batch import ImportBatch, RunKey
from importers.task_map import TaskSpec
from importers.tokens import TokenCounter
from xstage.hashing import item_hash

TARGET_DELIMITER = " "


@dataclass
class Sample:
    """One item of one task as a harness logged it, already decoded."""

    task: str
    where: str
    item_id: str
    contexts: list[str]
    continuations: list[str]
    logprobs: list[float]
    is_greedy: list[bool]
    gold_index: int
    choices: list[str] | None = None
    logprobs_uncond: list[float] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    line: int = 0
    file: str = ""


@dataclass(frozen=True)
class Provenance:
    """Who produced the samples: lands in predictions.backend/backend_version/scored_at."""

    backend: str
    backend_version: str
    scored_at: datetime
    imported_at: datetime
    counter: TokenCounter | None = None
    """Counts continuation tokens when the model's tokenizer is given; else n_tokens = 0."""


def add_sample(
    batch: ImportBatch,
    run: RunKey,
    sample: Sample,
    benchmark: str,
    spec: TaskSpec,
    category: str,
    prov: Provenance,
) -> None:
    """Validate one sample and add its item, choice and metric rows to `batch`."""
    problem = _shape_problem(sample)
    if problem:
        batch.problem(sample.where, problem)
        return
    item = _item_row(sample, spec.split, category, f"import:{prov.backend}:{sample.task}")
    if item is None:
        batch.problem(sample.where, "contexts and continuations both differ between choices")
        return
    if not batch.claim(run, benchmark, sample.item_id, sample.where):
        return
    batch.add_item(benchmark, item, sample.where)
    batch.add_rows("predictions", run, benchmark, _prediction_rows(sample, run, prov))
    batch.add_rows("imported_metrics", run, benchmark, _metric_rows(sample, prov))


def _shape_problem(sample: Sample) -> str:
    n = len(sample.logprobs)
    counts = {
        "continuations": len(sample.continuations),
        "contexts": len(sample.contexts),
        "is_greedy flags": len(sample.is_greedy),
    }
    if sample.choices is not None:
        counts["choices"] = len(sample.choices)
    if sample.logprobs_uncond is not None:
        counts["unconditioned log-probs"] = len(sample.logprobs_uncond)
    for what, count in counts.items():
        if count != n:
            return f"choice count disagrees with the item: {n} log-probs but {count} {what}"
    if n < 2:
        return f"an item needs at least 2 choices, got {n}"
    for what, values in (
        ("log-prob", sample.logprobs),
        ("unconditioned log-prob", sample.logprobs_uncond or []),
    ):
        bad = [v for v in values if not (math.isfinite(v) and v <= 0.0)]
        if bad:
            return (
                f"{what}={bad[0]!r} is not a finite number <= 0 (log-probs are sums of log(p <= 1))"
            )
    if not 0 <= sample.gold_index < n:
        return f"gold index {sample.gold_index} is outside 0..{n - 1}"
    return ""


def _item_row(sample: Sample, split: str, category: str, source: str) -> dict | None:
    contexts, continuations = sample.contexts, sample.continuations
    partial = len(set(contexts)) > 1
    if partial and len(set(continuations)) > 1:
        return None
    if partial:
        # Partial scoring (WinoGrande): the choice is in the context, the continuation is shared.
        shared = _common_prefix_to_word(contexts)
        choices = sample.choices or [c[len(shared) :].strip() for c in contexts]
        context, choice_contexts, continuation = shared, list(contexts), continuations[0]
    else:
        choices = sample.choices or [_strip_delimiter(c) for c in continuations]
        context, choice_contexts, continuation = contexts[0], None, None
    return {
        "item_id": sample.item_id,
        "split": split,
        "context": context,
        "choices": list(choices),
        "gold_index": sample.gold_index,
        "category": category,
        "n_choices": len(choices),
        "item_hash": item_hash(context, list(choices), continuation),
        "source": source,
        "choice_contexts": choice_contexts,
        "continuation": continuation,
    }


def _common_prefix_to_word(texts: list[str]) -> str:
    prefix = texts[0]
    for text in texts[1:]:
        while not text.startswith(prefix):
            prefix = prefix[:-1]
    cut = max(prefix.rfind(" "), prefix.rfind("\n"))
    return prefix[: cut + 1] if cut >= 0 else ""


def _strip_delimiter(continuation: str) -> str:
    if continuation.startswith(TARGET_DELIMITER):
        return continuation[len(TARGET_DELIMITER) :]
    return continuation


def _prediction_rows(sample: Sample, run: RunKey, prov: Provenance) -> list[dict]:
    rows = []
    for k, logprob in enumerate(sample.logprobs):
        continuation = sample.continuations[k]
        uncond = sample.logprobs_uncond[k] if sample.logprobs_uncond is not None else None
        rows.append(
            {
                "item_id": sample.item_id,
                "choice_index": k,
                "is_gold": k == sample.gold_index,
                "logprob": logprob,
                "n_tokens": _n_tokens(prov, sample.contexts[k], continuation),
                # The answer text alone, as lm-eval's acc_norm and xstage's scorer divide by it:
                # the target delimiter's leading space is not part of the answer.
                "n_chars": len(_strip_delimiter(continuation)),
                "n_bytes": len(_strip_delimiter(continuation).encode("utf-8")),
                "is_greedy": sample.is_greedy[k],
                "logprob_uncond": uncond,
                "checkpoint_step": run.checkpoint_step,
                "backend": prov.backend,
                "backend_version": prov.backend_version,
                "dtype": "unknown",
                "scored_at": prov.scored_at,
            }
        )
    return rows


def _n_tokens(prov: Provenance, context: str, continuation: str) -> int:
    """0 = not known: harness logs carry no token counts (schemas.PREDICTIONS)."""
    return prov.counter.count(context, continuation) if prov.counter else 0


def _metric_rows(sample: Sample, prov: Provenance) -> list[dict]:
    return [
        {
            "item_id": sample.item_id,
            "metric": name,
            "value": value,
            "source_task": sample.task,
            "source_file": sample.file,
            "source_line": sample.line,
            "imported_at": prov.imported_at,
        }
        for name, value in sorted(sample.metrics.items())
    ]


def typed_bool(value: object, name: str) -> bool:
    """A boolean from JSON/Parquet: True/False, 1/0, or the strings "True"/"False"/"1"/"0".

    Never Python truthiness: the string "False" is False here.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
        return value.strip().lower() in ("true", "1")
    raise ValueError(f"{name} {value!r} is not a boolean (true/false/1/0)")


def doc_field(doc: dict, dotted: str) -> object:
    """`doc["a"]["b"]` for `a.b`; KeyError names the missing part."""
    value: object = doc
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"doc has no field {dotted!r}")
        value = value[part]
    return value


def spec_item_id(doc: dict, doc_id: object, spec: TaskSpec) -> str:
    """The item id: the spec's doc field if set, else the harness doc_id (6-digit padded)."""
    if spec.item_id_field:
        return str(doc_field(doc, spec.item_id_field))
    if isinstance(doc_id, int):
        return f"{doc_id:06d}"
    return str(doc_id)
