"""The generated lake with known checkpoint and seed noise, for the decision-statistics tests.

`write_synthetic_lake(..., noise=NoiseSpec())` lands here; without `noise` nothing here runs and
the plain generated lake keeps its values. What changes with a NoiseSpec:
- every run x stage has `n_checkpoints` periodic checkpoints, spaced a tenth of the final step
  apart and ending at CHECKPOINTS' step (so the latest-checkpoint marts still see that step);
- every scale x mixture has `n_seeds` seeds (0, 1, ...);
- a run's skill on a benchmark (the logit bonus of the gold choice per token) is
  base(scale) + 0.5 at SFT + spread(benchmark) * effect(benchmark, mixture)
  + seed_sd * e_seed + checkpoint_sd(benchmark) * e_checkpoint, with effect, e_seed and
  e_checkpoint standard normal; a run x stage x benchmark draws its item noise once, so two
  checkpoints differ only by the checkpoint term (known variance checkpoint_sd**2 in skill units);
- `high_snr` has a wide mixture spread and almost no checkpoint noise, `low_snr` the reverse:
  by construction the first must rank above the second on signal-to-noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from warehouse import synthetic as base
from xstage import lake, schemas


@dataclass(frozen=True)
class NoiseSpec:
    """Known perturbations of the generated lake (all in skill units: gold logit per token)."""

    n_checkpoints: int = 3
    n_seeds: int = 3
    checkpoint_sd: float = 0.1
    seed_sd: float = 0.2
    spread: float = 0.5
    high_snr: str = "cs_one"
    low_snr: str = "cs_two"
    high_snr_spread: float = 1.5
    high_snr_checkpoint_sd: float = 0.01
    low_snr_spread: float = 0.02
    low_snr_checkpoint_sd: float = 1.0

    def spread_of(self, benchmark: str) -> float:
        """How far the mixtures' skills spread on `benchmark` (the signal's source)."""
        return {self.high_snr: self.high_snr_spread, self.low_snr: self.low_snr_spread}.get(
            benchmark, self.spread
        )

    def checkpoint_sd_of(self, benchmark: str) -> float:
        """The sd of one checkpoint's skill perturbation on `benchmark` (the noise's source)."""
        return {
            self.high_snr: self.high_snr_checkpoint_sd,
            self.low_snr: self.low_snr_checkpoint_sd,
        }.get(benchmark, self.checkpoint_sd)


def checkpoint_steps(stage: str, n_checkpoints: int) -> list[int]:
    """Periodic steps of a stage, oldest first, ending at the stage's final step."""
    final = base.CHECKPOINTS[stage]
    interval = final // 10
    return [final - (n_checkpoints - 1 - k) * interval for k in range(n_checkpoints)]


def _leaf(rng, spec, run, stage, benchmark, items, shared, effects, root) -> None:
    """Every checkpoint of one run x stage x benchmark; item noise drawn once."""
    scale, mixture, _seed = run
    gold = items["gold_index"].to_numpy().astype(np.int64)
    lengths = shared[benchmark]
    n_items, k = lengths["n_tokens"].shape
    per_token = rng.normal(-2.0, 0.6, (n_items, k))
    skill = (
        (1.2 if scale == "small" else 0.6)
        + (0.5 if stage == "sft" else 0.0)
        + spec.spread_of(benchmark) * effects[(benchmark, mixture)]
        + spec.seed_sd * rng.normal()
    )
    uncond = lengths["uncond"] if benchmark == base.PMI_BENCHMARK else None
    for step in checkpoint_steps(stage, spec.n_checkpoints):
        if benchmark == base.ZERO_VARIANCE_BENCHMARK and stage == "sft":
            logprob = lengths[f"fixed_{scale}"]
        else:
            bonus = skill + spec.checkpoint_sd_of(benchmark) * rng.normal()
            shifted = per_token.copy()
            shifted[np.arange(n_items), gold] += bonus
            logprob = np.round(shifted * lengths["n_tokens"], 6)
            logprob[lengths["tie"], 1] = logprob[lengths["tie"], 0]
        table = base._prediction_table(benchmark, logprob, gold, lengths, step, uncond)
        path = lake.predictions_path(scale, mixture, run[2], stage, benchmark, step, root)
        lake.write_parquet(table, path, schemas.PREDICTIONS)


def write_noisy_lake(
    root: Path, config_dir: Path | None, n_items: int, seed: int, spec: NoiseSpec
) -> base.SyntheticLake:
    """The generated lake with spec's checkpoints, seeds and noise (see the module docstring)."""
    rng = np.random.default_rng([seed, 15])
    root = Path(root)
    items: dict[str, pa.Table] = {}
    shared: dict[str, dict] = {}
    for benchmark in base.BENCHMARKS:
        items[benchmark] = base._items(rng, benchmark, n_items)
        lake.write_parquet(
            items[benchmark], lake.benchmark_items_path(benchmark, root), schemas.BENCHMARK_ITEMS
        )
        shared[benchmark] = base._shared(rng, benchmark, items[benchmark], n_items)
    effects = {(b, m): rng.normal() for b in base.BENCHMARKS for m in base.MIXTURES}
    runs = [(s, m, i) for s in base.SCALES for m in base.MIXTURES for i in range(spec.n_seeds)]
    runs_rows = []
    for run in runs:
        for stage in base.CHECKPOINTS:
            for step in checkpoint_steps(stage, spec.n_checkpoints):
                runs_rows.append(base._runs_row(*run, stage, step))
            for benchmark in base.BENCHMARKS:
                _leaf(rng, spec, run, stage, benchmark, items[benchmark], shared, effects, root)
    base.write_runs(root, runs_rows)
    if config_dir is not None:
        base.write_configs(Path(config_dir))
    return base.SyntheticLake(root=root, config_dir=config_dir, n_items=n_items, runs=runs)
