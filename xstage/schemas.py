"""pyarrow schemas of every lake table (DESIGN §4). Writers check against these exactly.

Used by: every command that writes to the lake (ingest, train, sft, score, import).
Partition keys (scale, mixture, seed, stage, benchmark, corpus, dataset) live only in paths.
"""

from __future__ import annotations

import pyarrow as pa

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

BENCHMARK_ITEMS = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        # The rendered query (template applied, fields filled in); for mc, options are listed.
        pa.field("context", pa.string(), nullable=False),
        # Answer texts, always the text (mc scoring maps them to letters at prompt time).
        pa.field("choices", pa.list_(pa.string()), nullable=False),
        pa.field("gold_index", pa.int16(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("n_choices", pa.int16(), nullable=False),
        pa.field("item_hash", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        # Partial scoring (WinoGrande, WSC): one context per choice and a shared continuation.
        pa.field("choice_contexts", pa.list_(pa.string()), nullable=True),
        pa.field("continuation", pa.string(), nullable=True),
    ]
)

DOCUMENTS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("doc_hash", pa.string(), nullable=False),
    ]
)

CHAT_MESSAGE = pa.struct(
    [
        pa.field("role", pa.string(), nullable=False),
        pa.field("content", pa.string(), nullable=False),
    ]
)

CHAT_EXAMPLES = pa.schema(
    [
        pa.field("example_id", pa.string(), nullable=False),
        pa.field("messages", pa.list_(CHAT_MESSAGE), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("example_hash", pa.string(), nullable=False),
    ]
)

PREDICTIONS = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("choice_index", pa.int16(), nullable=False),
        pa.field("is_gold", pa.bool_(), nullable=False),
        pa.field("logprob", pa.float64(), nullable=False),
        # 0 means "not known": imported runs (xstage import without --tokenizer) have no counts.
        pa.field("n_tokens", pa.int32(), nullable=False),
        pa.field("n_chars", pa.int32(), nullable=False),
        pa.field("n_bytes", pa.int32(), nullable=False),
        pa.field("is_greedy", pa.bool_(), nullable=False),
        pa.field("logprob_uncond", pa.float64(), nullable=True),
        pa.field("checkpoint_step", pa.int64(), nullable=False),
        pa.field("backend", pa.string(), nullable=False),
        pa.field("backend_version", pa.string(), nullable=False),
        pa.field("dtype", pa.string(), nullable=False),
        pa.field("scored_at", UTC_TIMESTAMP, nullable=False),
    ]
)

RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("scale", pa.string(), nullable=False),
        pa.field("n_params_nominal", pa.int64(), nullable=True),
        pa.field("n_params", pa.int64(), nullable=True),
        # The correlation unit: a mixture for trained runs, a family or any slug for imports.
        pa.field("mixture", pa.string(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        # 'train', 'sft', 'score' (an outside model scored here) or 'import'.
        pa.field("origin", pa.string(), nullable=False),
        pa.field("checkpoint_step", pa.int64(), nullable=False),
        pa.field("n_tokens_seen", pa.int64(), nullable=True),
        pa.field("checkpoint_path", pa.string(), nullable=True),
        pa.field("checkpoint_sha256", pa.string(), nullable=True),
        pa.field("tokenizer_hash", pa.string(), nullable=True),
        pa.field("config_hash", pa.string(), nullable=True),
        pa.field("git_sha", pa.string(), nullable=True),
        pa.field("device", pa.string(), nullable=True),
        pa.field("wall_seconds", pa.float64(), nullable=True),
        pa.field("created_at", UTC_TIMESTAMP, nullable=False),
    ]
)

TRAINING_METRICS = pa.schema(
    [
        pa.field("step", pa.int64(), nullable=False),
        pa.field("loss", pa.float64(), nullable=False),
        pa.field("lr", pa.float64(), nullable=False),
        pa.field("tokens_seen", pa.int64(), nullable=False),
        pa.field("tokens_per_s", pa.float64(), nullable=True),
        pa.field("grad_norm", pa.float64(), nullable=True),
        pa.field("logged_at", UTC_TIMESTAMP, nullable=False),
    ]
)

# Imported runs (xstage import ...): the source harness's own per-item metrics (lm-eval `acc`,
# `acc_norm`, lighteval `metric.*`), kept beside our predictions for comparison, never used by marts.
# Leaf: imported_metrics/scale=/mixture=/seed=/stage=/benchmark=/part-<checkpoint_step>.parquet
IMPORTED_METRICS = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("source_task", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("imported_at", UTC_TIMESTAMP, nullable=False),
    ]
)

# Per-item outcomes of runs that have no per-choice log-probs (xstage import table): one row per
# run x stage x benchmark x item. The warehouse unions these with the per-item rows it derives from
# predictions; a leaf never coexists with a predictions leaf of the same partition.
# Leaf: item_results/scale=/mixture=/seed=/stage=/benchmark=/part-<checkpoint_step>.parquet
ITEM_RESULTS = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("is_correct", pa.bool_(), nullable=False),
        pa.field("confidence", pa.float64(), nullable=True),
        pa.field("prob_gold", pa.float64(), nullable=True),
        pa.field("predicted_index", pa.int16(), nullable=True),
        pa.field("category", pa.string(), nullable=False),
        pa.field("checkpoint_step", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("imported_at", UTC_TIMESTAMP, nullable=False),
        # The item's choice count where the table gave one (chance = 1/n_choices without a config);
        # last and nullable, so leaves written before it existed still read (union_by_name).
        pa.field("n_choices", pa.int16(), nullable=True),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "benchmark_items": BENCHMARK_ITEMS,
    "documents": DOCUMENTS,
    "chat_examples": CHAT_EXAMPLES,
    "predictions": PREDICTIONS,
    "runs": RUNS,
    "training_metrics": TRAINING_METRICS,
    "imported_metrics": IMPORTED_METRICS,
    "item_results": ITEM_RESULTS,
}
