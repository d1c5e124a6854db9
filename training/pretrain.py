"""Pretrain one run: a scale on a mixture with a seed (DESIGN §7).

Used by: xstage train --scale S --mixture M [--seed N] [--set key=value] [--dry-run], the same
under torchrun, and the study runner (training.pretrain.run). A finished run (final/ with the
same config hash) is a no-op; an interrupted one resumes from its last periodic checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from training import checkpoint, distributed
from training.resolve import Scalar, apply_overrides, config_hash
from xstage import lake
from xstage.config import MixtureConfig, RecipeConfig, ScaleConfig, list_ids, load_config
from xstage.ids import run_id as make_run_id
from xstage.run_record import CheckpointMeta, read_checkpoint_meta

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """What a pretraining or SFT call produced (or found already done)."""

    run_id: str
    stage: str
    checkpoint_dir: Path
    steps: int
    tokens_seen: int
    final_loss: float | None
    wall_seconds: float
    skipped: bool


@dataclass(frozen=True)
class PretrainPlan:
    """A resolved pretraining run: configs after overrides, step counts and where it writes."""

    run_id: str
    scale: ScaleConfig
    mixture: MixtureConfig
    recipe: RecipeConfig
    seed: int
    seq_len: int
    total_steps: int
    stage_dir: Path

    @property
    def tokens_per_step(self) -> int:
        return self.recipe.train.global_batch_size * self.seq_len

    @property
    def train_tokens(self) -> int:
        return self.total_steps * self.tokens_per_step

    def resolved(self) -> dict:
        """The resolved config, as written to `<stage dir>/config.json` and hashed."""
        return {
            "stage": "pretrain",
            "seed": self.seed,
            "scale": self.scale.model_dump(),
            "mixture": self.mixture.model_dump(),
            "recipe": self.recipe.model_dump(),
        }

    def leaves(self) -> list[Path]:
        """What the run writes: its final checkpoint and its two lake leaves."""
        return [
            self.stage_dir / checkpoint.FINAL,
            lake.training_metrics_path(self.scale.scale, self.mixture.id, self.seed, "pretrain"),
            lake.runs_path(self.run_id, "pretrain"),
        ]


def default_recipe_id(study: str, scale: str, stage: str) -> str:
    """`demo_pretrain_tiny`, `paper_sft_240m`: the recipe a study uses for a scale by default."""
    return f"{study}_{stage}_{scale.lower()}"


def _as(kind: str, value, cls):
    return value if isinstance(value, cls) else load_config(kind, value)


def plan(
    scale: str | ScaleConfig,
    mixture: str | MixtureConfig,
    recipe: str | RecipeConfig | None = None,
    seed: int = 0,
    overrides: Mapping[str, Scalar] | Sequence[str] = (),
) -> PretrainPlan:
    """Resolve configs and overrides into a plan; nothing is read from the lake or written."""
    scale_cfg = _as("scales", scale, ScaleConfig)
    mixture_cfg = _as("mixtures", mixture, MixtureConfig)
    recipe = recipe or default_recipe_id(mixture_cfg.study, scale_cfg.scale, "pretrain")
    recipe_cfg = _as("recipes", recipe, RecipeConfig)
    if recipe_cfg.stage != "pretrain":
        raise ValueError(f"recipe {recipe_cfg.id!r} is a {recipe_cfg.stage} recipe, not pretrain")
    scale_cfg, recipe_cfg = apply_overrides(scale_cfg, recipe_cfg, overrides)
    settings = recipe_cfg.train
    seq_len = settings.seq_len or scale_cfg.seq_len
    steps = settings.max_steps or settings.train_tokens // (settings.global_batch_size * seq_len)
    if steps < 1:
        raise ValueError(f"recipe {recipe_cfg.id}: train_tokens gives no full step")
    rid = make_run_id(scale_cfg.scale, mixture_cfg.id, seed)
    return PretrainPlan(
        rid,
        scale_cfg,
        mixture_cfg,
        recipe_cfg,
        seed,
        seq_len,
        steps,
        lake.run_stage_dir(rid, "pretrain"),
    )


def study_corpora(study: str) -> list[str]:
    """Every corpus used by any mixture of a study: what its one tokenizer is trained on."""
    corpora: set[str] = set()
    for mixture_id in list_ids("mixtures"):
        mixture = load_config("mixtures", mixture_id)
        if mixture.study == study:
            corpora.update(source.corpus for source in mixture.sources)
    return sorted(corpora)


def ensure_study_tokenizer(study: str, vocab_size: int) -> Path:
    """The study's tokenizer dir as it is, or trained on first use from all its corpora."""
    from training.tokenizer import train_study_tokenizer

    directory = lake.tokenizer_dir(study)
    if (directory / "tokenizer.json").is_file():  # whoever trained it (xstage run, the CLI)
        return directory
    return train_study_tokenizer(study_corpora(study), vocab_size, directory)


def write_json_atomically(path: Path, data: dict) -> None:
    """Write JSON through a temp file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def clear_stage(stage_dir: Path, leaves: list[Path], env: distributed.DistEnv) -> None:
    """`--overwrite`: rank 0 deletes the stage's checkpoints and lake leaves; all ranks wait."""
    if env.is_main:
        shutil.rmtree(stage_dir, ignore_errors=True)
        for leaf in leaves:
            leaf.unlink(missing_ok=True)
    distributed.barrier(env)


def existing_final(stage_dir: Path, digest: str) -> CheckpointMeta | None:
    """meta.json of a finished stage with the same config (skip it); None to (re)train."""
    final = stage_dir / checkpoint.FINAL
    if not (final / checkpoint.META_FILE).is_file():
        return None
    meta = read_checkpoint_meta(final)
    if meta.config_hash != digest:
        raise ValueError(
            f"{final} was trained with config {meta.config_hash[:12]}, not {digest[:12]} "
            "(changed recipe or --set); pass --overwrite (overwrite=True) to retrain"
        )
    return meta


class MixtureBatches:
    """Global batches of packed mixture sequences; every token carries the loss."""

    def __init__(self, sampler, global_batch_size: int) -> None:
        self.sampler, self.global_batch_size = sampler, global_batch_size

    def next_batch(self):
        import torch

        from training.loop import Batch

        ids = torch.from_numpy(self.sampler.next_batch(self.global_batch_size))
        return Batch(ids, ids.clone(), None, ids.numel())

    def state_dict(self) -> dict:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state)


def _sampler(the_plan: PretrainPlan, tokenizer, tokenizer_digest: str):
    from training.mixture import MixtureSampler, tokenize_corpus

    sources = the_plan.mixture.sources
    corpora = [tokenize_corpus(s.corpus, tokenizer, tokenizer_digest) for s in sources]
    weights = [source.weight for source in sources]
    return MixtureSampler(corpora, weights, the_plan.seq_len, the_plan.seed)


def run(
    scale: str | ScaleConfig,
    mixture: str | MixtureConfig,
    recipe: str | RecipeConfig | None = None,
    seed: int = 0,
    *,
    overrides: Mapping[str, Scalar] | Sequence[str] = (),
    tokenizer: str | Path | None = None,
    overwrite: bool = False,
    show_progress: bool = True,
) -> TrainResult:
    """Pretrain `scale` on `mixture`; returns where `final/` is. Skips a finished run.

    `tokenizer` is a tokenizer dir or hub id; None uses the study's own
    (`<data>/tokenizers/<study>/`, trained on the study's corpora on first use).
    """
    from training.loop import StageRun, train
    from training.model import build_model

    env = distributed.setup()
    the_plan = plan(scale, mixture, recipe, seed, overrides)
    sc, mix = the_plan.scale, the_plan.mixture
    tok, tok_digest = _tokenizer(tokenizer, mix.study, sc.vocab_size, env)
    resolved = {**the_plan.resolved(), "tokenizer_hash": tok_digest}
    digest = config_hash(resolved)
    done = start_stage(the_plan.stage_dir, the_plan.leaves()[1:], digest, resolved, overwrite, env)
    if done is not None:
        return done_result(the_plan.run_id, "pretrain", the_plan.stage_dir, done)
    resume = checkpoint.latest_resumable(the_plan.stage_dir)
    model = checkpoint.load_model(resume) if resume else build_model(sc, seed, tok.eos_token_id)
    sampler = _sampler(the_plan, tok, tok_digest)
    meta = {
        "config_hash": digest,
        "tokenizer_hash": tok_digest,
        "n_params": sc.n_params,
        "n_params_non_embedding": sc.n_params_non_embedding,
        "n_params_nominal": sc.n_params_nominal,
        "recipe": the_plan.recipe.id,
        "study": mix.study,
        "seq_len": the_plan.seq_len,
    }
    stage_run = StageRun(
        stage="pretrain",
        run_id=the_plan.run_id,
        scale=sc.scale,
        mixture=mix.id,
        seed=seed,
        settings=the_plan.recipe.train,
        total_steps=the_plan.total_steps,
        stage_dir=the_plan.stage_dir,
        tokenizer=tok,
        meta=meta,
        description=f"pretrain {the_plan.run_id}",
    )
    batches = MixtureBatches(sampler, the_plan.recipe.train.global_batch_size)
    result = train(model, batches, stage_run, env, resume, show_progress)
    log.info("mixture tokens drawn: %s", sampler.tokens_per_corpus())
    return trained_result(the_plan.run_id, "pretrain", result)


def _tokenizer(tokenizer: str | Path | None, study: str, vocab_size: int, env):
    """(tokenizer, its hash): the given one, or the study's (trained by rank 0 on first use)."""
    from training.tokenizer import load_tokenizer, tokenizer_hash

    if tokenizer is None:
        if env.is_main:
            ensure_study_tokenizer(study, vocab_size)
        distributed.barrier(env)
        tokenizer = lake.tokenizer_dir(study)
    tok = load_tokenizer(tokenizer)
    if len(tok) > vocab_size:
        raise ValueError(f"tokenizer {tokenizer} has {len(tok)} tokens > vocab_size {vocab_size}")
    return tok, tokenizer_hash(tok)


def start_stage(
    stage_dir: Path, leaves: list[Path], digest: str, resolved: dict, overwrite: bool, env
) -> CheckpointMeta | None:
    """Clear on --overwrite; return the finished stage's meta (skip), else prepare to train.

    Every rank looks before rank 0 sweeps temp dirs and writes the resolved config.json.
    """
    if overwrite:
        clear_stage(stage_dir, leaves, env)
    done = existing_final(stage_dir, digest)
    distributed.barrier(env)
    if done is None and env.is_main:
        checkpoint.sweep_partial(stage_dir)
        write_json_atomically(stage_dir / "config.json", resolved)
    return done


def done_result(run_id: str, stage: str, stage_dir: Path, meta: CheckpointMeta) -> TrainResult:
    """The TrainResult of a stage found finished (nothing trained)."""
    final = stage_dir / checkpoint.FINAL
    steps, tokens, seconds = meta.checkpoint_step, meta.n_tokens_seen, meta.wall_seconds
    return TrainResult(run_id, stage, final, steps, tokens, None, seconds, skipped=True)


def trained_result(run_id: str, stage: str, result) -> TrainResult:
    """The TrainResult of a stage trained now, from the loop's result."""
    return TrainResult(
        run_id,
        stage,
        result.final_dir,
        result.steps,
        result.tokens_seen,
        result.final_loss,
        result.wall_seconds,
        skipped=False,
    )
