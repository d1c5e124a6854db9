"""A seeded generated lake with known structure, for warehouse tests, the bench and helpers.

Used by: tests/warehouse (cross-checks of every mart against warehouse/metrics.py) and
benchmarks/warehouse_bench.py (runs rows and configs for the paper-size generated lake).
Written through xstage.lake + xstage.schemas: benchmark_items, predictions, runs, plus benchmark
and mixture YAML configs in a config dir (point $XSTAGE_CONFIG_DIR at it before `xstage build`).

Known structure: 2 scales x 6 mixtures (2 web sources x 3 proportions) x 2 stages x 12
benchmarks (3 per category); a second seed for one mixture (seed-averaging); an older pretrain
checkpoint for that run (must be ignored: marts use the latest); exact ties at the maximum on
every 7th item; logprob_uncond on one benchmark only (PMI rows exist only there); and at SFT the
benchmark `sem_zero` scores identically for every mixture (zero variance: r is NULL).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import yaml

from xstage import lake, schemas
from xstage.ids import run_id

if TYPE_CHECKING:
    from warehouse.synthetic_noise import NoiseSpec

SCALES = {"tiny": 1_000_000, "small": 10_000_000}
WEB_SOURCES = ("web_a", "web_b")
PROPORTIONS = ((0.65, 0.25, 0.10), (0.45, 0.35, 0.20), (0.25, 0.45, 0.30))
CATEGORY_CHOICES = {"commonsense": 4, "science": 4, "nli": 3, "semantic": 2}
BENCHMARKS = {
    "cs_one": "commonsense", "cs_two": "commonsense", "cs_three": "commonsense",
    "sci_one": "science", "sci_two": "science", "sci_three": "science",
    "nli_one": "nli", "nli_two": "nli", "nli_three": "nli",
    "sem_one": "semantic", "sem_two": "semantic", "sem_zero": "semantic",
}  # fmt: skip
PMI_BENCHMARK = "sci_one"
ZERO_VARIANCE_BENCHMARK = "sem_zero"
CHECKPOINTS = {"pretrain": 1000, "sft": 200}
STALE_CHECKPOINT = 500
SCORED_AT = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def mixture_id(web_source: str, proportions: tuple[float, float, float]) -> str:
    """`web_a_65_25_10`: the mixture id of a web source and (web, code, curated) shares."""
    return "_".join([web_source, *(str(round(share * 100)) for share in proportions)])


MIXTURES = {mixture_id(w, p): (w, p) for w in WEB_SOURCES for p in PROPORTIONS}
EXTRA_SEED_MIXTURE = mixture_id("web_a", PROPORTIONS[0])


@dataclass
class SyntheticLake:
    """What was written, for tests to reason about."""

    root: Path
    config_dir: Path | None
    n_items: int
    runs: list[tuple[str, str, int]] = field(default_factory=list)
    """(scale, mixture, seed) of every run."""


def _items(rng: np.random.Generator, benchmark: str, n_items: int) -> pa.Table:
    k = CATEGORY_CHOICES[BENCHMARKS[benchmark]]
    gold = rng.integers(0, k, n_items)
    rows = {
        "item_id": [f"{benchmark}-{i:04d}" for i in range(n_items)],
        "split": ["test"] * n_items,
        "context": [f"Question {i} of {benchmark}?" for i in range(n_items)],
        "choices": [[f"answer {c} of {i}" for c in range(k)] for i in range(n_items)],
        "gold_index": gold.astype(np.int16),
        "category": [BENCHMARKS[benchmark]] * n_items,
        "n_choices": np.full(n_items, k, np.int16),
        "item_hash": [f"{benchmark}{i:08x}" for i in range(n_items)],
        "source": ["synthetic"] * n_items,
        "choice_contexts": [None] * n_items,
        "continuation": [None] * n_items,
    }
    return pa.table(rows, schema=schemas.BENCHMARK_ITEMS)


def _lengths(rng: np.random.Generator, n_items: int, k: int) -> dict[str, np.ndarray]:
    n_chars = rng.integers(3, 40, (n_items, k))
    n_bytes = n_chars + rng.integers(0, 3, (n_items, k))
    n_tokens = np.maximum(1, n_chars // rng.integers(2, 5, (n_items, k)))
    tie = np.arange(n_items) % 7 == 0  # choices 0 and 1 get identical evidence -> exact ties
    for lengths in (n_chars, n_bytes, n_tokens):
        lengths[tie, 1] = lengths[tie, 0]
    return {"n_tokens": n_tokens, "n_chars": n_chars, "n_bytes": n_bytes, "tie": tie}


def _logprobs(rng, skill: float, gold: np.ndarray, lengths: dict) -> np.ndarray:
    n_items, k = lengths["n_tokens"].shape
    per_token = rng.normal(-2.0, 0.6, (n_items, k))
    per_token[np.arange(n_items), gold] += skill
    logprob = np.round(per_token * lengths["n_tokens"], 6)
    logprob[lengths["tie"], 1] = logprob[lengths["tie"], 0]
    return logprob


def _prediction_table(benchmark, logprob, gold, lengths, step, uncond) -> pa.Table:
    n_items, k = logprob.shape
    rows = n_items * k
    is_gold = (np.arange(k)[None, :] == gold[:, None]).ravel()
    greedy = (logprob == logprob.max(axis=1, keepdims=True)).ravel()
    return pa.table(
        {
            "item_id": np.repeat([f"{benchmark}-{i:04d}" for i in range(n_items)], k),
            "choice_index": np.tile(np.arange(k, dtype=np.int16), n_items),
            "is_gold": is_gold,
            "logprob": logprob.ravel(),
            "n_tokens": lengths["n_tokens"].ravel().astype(np.int32),
            "n_chars": lengths["n_chars"].ravel().astype(np.int32),
            "n_bytes": lengths["n_bytes"].ravel().astype(np.int32),
            "is_greedy": greedy,
            "logprob_uncond": pa.nulls(rows, pa.float64()) if uncond is None else uncond.ravel(),
            "checkpoint_step": np.full(rows, step, np.int64),
            "backend": ["synthetic"] * rows,
            "backend_version": ["1"] * rows,
            "dtype": ["float64"] * rows,
            "scored_at": [SCORED_AT] * rows,
        }
    )


def _skill(rng: np.random.Generator, scale: str, stage: str, benchmark: str) -> float:
    base = 1.2 if scale == "small" else 0.6
    return base + (0.5 if stage == "sft" else 0.0) + rng.normal(0, 0.8)


def _write_predictions(rng, root, run, stage, step, benchmark, items, shared) -> None:
    scale, mixture, seed = run
    gold = items["gold_index"].to_numpy().astype(np.int64)
    lengths = shared[benchmark]
    if benchmark == ZERO_VARIANCE_BENCHMARK and stage == "sft":
        logprob = lengths[f"fixed_{scale}"]  # the same for every mixture and seed
    else:
        logprob = _logprobs(rng, _skill(rng, scale, stage, benchmark), gold, lengths)
    uncond = lengths["uncond"] if benchmark == PMI_BENCHMARK else None
    table = _prediction_table(benchmark, logprob, gold, lengths, step, uncond)
    path = lake.predictions_path(scale, mixture, seed, stage, benchmark, step, root)
    lake.write_parquet(table, path, schemas.PREDICTIONS)


def _runs_row(scale: str, mixture: str, seed: int, stage: str, step: int) -> dict:
    return {
        "run_id": run_id(scale, mixture, seed),
        "scale": scale,
        "n_params_nominal": SCALES[scale],
        "n_params": SCALES[scale] + 1234,
        "mixture": mixture,
        "seed": seed,
        "stage": stage,
        "origin": "train" if stage == "pretrain" else "sft",
        "checkpoint_step": step,
        "n_tokens_seen": step * 1000,
        "created_at": SCORED_AT,
    }


def write_runs(root: Path, rows: list[dict]) -> None:
    """One lake/runs file per run x stage (all its checkpoints), through xstage.lake."""
    by_leaf: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        by_leaf.setdefault((row["run_id"], row["stage"]), []).append(row)
    for (rid, stage), leaf_rows in by_leaf.items():
        table = pa.Table.from_pylist(leaf_rows, schema=schemas.RUNS)
        lake.write_parquet(table, lake.runs_path(rid, stage, root), schemas.RUNS)


def _shared(rng: np.random.Generator, benchmark: str, items: pa.Table, n_items: int) -> dict:
    k = CATEGORY_CHOICES[BENCHMARKS[benchmark]]
    lengths = _lengths(rng, n_items, k)
    gold = items["gold_index"].to_numpy().astype(np.int64)
    for scale in SCALES:
        lengths[f"fixed_{scale}"] = _logprobs(rng, 1.0, gold, lengths)
    lengths["uncond"] = np.round(rng.normal(-30, 5, (n_items, k)), 6)
    return lengths


def write_synthetic_lake(
    root: Path,
    config_dir: Path | None = None,
    n_items: int = 40,
    seed: int = 0,
    noise: NoiseSpec | None = None,
) -> SyntheticLake:
    """Write the generated lake under `root` (a data dir) and, if given, configs/ under config_dir.

    `noise` (off by default, so the plain lake keeps its values): periodic checkpoints, several
    seeds per cell and benchmarks of known high and low signal-to-noise (warehouse.synthetic_noise).
    """
    if noise is not None:
        from warehouse.synthetic_noise import write_noisy_lake

        return write_noisy_lake(root, config_dir, n_items, seed, noise)
    rng = np.random.default_rng(seed)
    root = Path(root)
    shared: dict[str, dict] = {}
    items: dict[str, pa.Table] = {}
    for benchmark in BENCHMARKS:
        items[benchmark] = _items(rng, benchmark, n_items)
        lake.write_parquet(
            items[benchmark], lake.benchmark_items_path(benchmark, root), schemas.BENCHMARK_ITEMS
        )
        shared[benchmark] = _shared(rng, benchmark, items[benchmark], n_items)
    runs = [(s, m, 0) for s in SCALES for m in MIXTURES] + [("tiny", EXTRA_SEED_MIXTURE, 1)]
    runs_rows = []
    for run in runs:
        leaves = list(CHECKPOINTS.items())
        if run == ("tiny", EXTRA_SEED_MIXTURE, 0):
            leaves.append(("pretrain", STALE_CHECKPOINT))
        for stage, step in leaves:
            runs_rows.append(_runs_row(*run, stage, step))
            for benchmark in BENCHMARKS:
                _write_predictions(rng, root, run, stage, step, benchmark, items[benchmark], shared)
    write_runs(root, runs_rows)
    if config_dir is not None:
        write_configs(Path(config_dir))
    return SyntheticLake(root=root, config_dir=config_dir, n_items=n_items, runs=runs)


def _write_yaml(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def benchmark_config(benchmark: str, category: str, n_choices: int, primary: str) -> dict:
    """A valid BenchmarkConfig mapping for a generated benchmark."""
    return {
        "id": benchmark,
        "display_name": benchmark.replace("_", " ").title(),
        "converter": "synthetic",
        "source": {"dataset": "synthetic/none", "split": "test"},
        "category": category,
        "primary_normalization": primary,
        "template": "{question}",
        "chance_accuracy": 1.0 / n_choices,
        "license": "CC0-1.0",
        "in_reference_study": "assumed",
    }


def mixture_config(mixture: str, web_source: str, proportions: tuple[float, ...]) -> dict:
    """A valid MixtureConfig mapping (web, code, curated corpora named after the web source)."""
    corpora = [web_source, "code_corpus", "curated_corpus"]
    return {
        "id": mixture,
        "display_name": mixture,
        "study": "demo",
        "web_source": web_source,
        "proportions": list(proportions),
        "sources": [{"corpus": c, "weight": w} for c, w in zip(corpora, proportions, strict=True)],
    }


def write_configs(config_dir: Path) -> None:
    """configs/benchmarks and configs/mixtures YAML for the generated lake."""
    primaries = ("none", "per_token", "per_char", "per_byte")
    for index, (benchmark, category) in enumerate(BENCHMARKS.items()):
        mapping = benchmark_config(
            benchmark, category, CATEGORY_CHOICES[category], primaries[index % 4]
        )
        _write_yaml(config_dir / "benchmarks" / f"{benchmark}.yaml", mapping)
    for mixture, (web_source, proportions) in MIXTURES.items():
        _write_yaml(
            config_dir / "mixtures" / f"{mixture}.yaml",
            mixture_config(mixture, web_source, proportions),
        )


def add_run(root: Path, scale: str, mixture: str, seed: int, rng_seed: int = 1) -> int:
    """Score one more run (both stages, every benchmark) into an existing generated lake.

    Used by the incremental-build test and the bench; returns prediction rows written.
    """
    rng = np.random.default_rng(rng_seed)
    rows = 0
    runs_rows = []
    for stage, step in CHECKPOINTS.items():
        runs_rows.append(_runs_row(scale, mixture, seed, stage, step))
        for benchmark in BENCHMARKS:
            items = lake.read_table(lake.benchmark_items_path(benchmark, root))
            shared = {benchmark: _shared(rng, benchmark, items, items.num_rows)}
            _write_predictions(
                rng, root, (scale, mixture, seed), stage, step, benchmark, items, shared
            )
            rows += items.num_rows * CATEGORY_CHOICES[BENCHMARKS[benchmark]]
    write_runs(root, runs_rows)
    return rows
