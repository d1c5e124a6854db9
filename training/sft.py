"""Supervised fine-tuning of a pretrained run on chat data (DESIGN §7).

Used by: xstage sft --run RUN_ID [--chat DATASET] [--set sft.epochs=2], and the study runner
(training.sft.run). Examples are rendered with the chat template stored with the tokenizer;
the loss is taken only on assistant tokens (their content and end-of-sequence token).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from training import checkpoint, distributed
from training.lake_data import read_chat_examples
from training.pretrain import (
    TrainResult,
    default_recipe_id,
    done_result,
    start_stage,
    trained_result,
)
from training.resolve import Scalar, apply_overrides, config_hash
from training.tokenizer import render_chat
from xstage import lake
from xstage.config import ConfigError, RecipeConfig, ScaleConfig, load_config
from xstage.run_record import CheckpointMeta, read_checkpoint_meta

log = logging.getLogger(__name__)
IGNORE_INDEX = -100


def encode_chat(tokenizer, messages: list[dict[str, str]], max_len: int) -> tuple[list, list]:
    """(input_ids, labels) of one conversation; labels are IGNORE_INDEX outside assistant spans.

    A token carries the loss when its first character lies in an assistant message's content
    or its end-of-sequence token. Sequences are truncated to `max_len` tokens.
    """
    text, spans = render_chat(messages, tokenizer.eos_token)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoding["input_ids"][:max_len]
    labels = []
    for token_id, (start, _end) in zip(ids, encoding["offset_mapping"], strict=False):
        inside = any(low <= start < high for low, high in spans)
        labels.append(token_id if inside else IGNORE_INDEX)
    return ids, labels


class ChatBatches:
    """Global batches of padded chat examples, a seeded new order every epoch."""

    def __init__(
        self, examples: list[tuple[list, list]], global_batch_size: int, seed: int, pad_id: int
    ) -> None:
        self.examples, self.global_batch_size = examples, global_batch_size
        self.seed, self.pad_id, self.position = seed, pad_id, 0
        self.steps_per_epoch = len(examples) // global_batch_size

    def next_batch(self):
        import torch

        from training.loop import Batch

        epoch, index = divmod(self.position, self.steps_per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.examples))
        chosen = [
            self.examples[i]
            for i in order[index * self.global_batch_size :][: self.global_batch_size]
        ]
        self.position += 1
        width = max(len(ids) for ids, _ in chosen)
        input_ids = torch.full((len(chosen), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(chosen), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(chosen), width), dtype=torch.long)
        for row, (ids, labs) in enumerate(chosen):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, : len(labs)] = torch.tensor(labs)
            mask[row, : len(ids)] = 1
        return Batch(input_ids, labels, mask, int(mask.sum()))

    def state_dict(self) -> dict:
        return {"position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.position = state["position"]


def load_examples(datasets: Sequence[str], seed: int, max_examples: int | None) -> list:
    """(dataset, example_id, messages) of the datasets together, seeded order, capped."""
    conversations = [
        (dataset, example_id, messages)
        for dataset in datasets
        for example_id, messages in read_chat_examples(dataset)
    ]
    order = np.random.default_rng(seed).permutation(len(conversations))
    return [conversations[i] for i in order[:max_examples]]


def _encode_all(tokenizer, conversations: list, max_len: int) -> list[tuple[list, list]]:
    encoded = []
    for dataset, example_id, messages in conversations:
        try:
            encoded.append(encode_chat(tokenizer, messages, max_len))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"chat_examples dataset={dataset} example_id={example_id}: {exc}"
            ) from None
    kept = [(ids, labels) for ids, labels in encoded if any(x != IGNORE_INDEX for x in labels[1:])]
    if len(kept) < len(encoded):
        log.info(
            "dropped %d examples with no assistant token within %d tokens",
            len(encoded) - len(kept),
            max_len,
        )
    return kept


def _chat_batches(tokenizer, datasets: list[str], settings, seed: int, max_len: int) -> ChatBatches:
    conversations = load_examples(datasets, seed, settings.max_examples)
    examples = _encode_all(tokenizer, conversations, max_len)
    batches = ChatBatches(examples, settings.global_batch_size, seed, tokenizer.pad_token_id)
    if batches.steps_per_epoch < 1:
        raise ValueError(
            f"{len(examples)} usable examples < global_batch_size "
            f"{settings.global_batch_size} in {datasets}"
        )
    return batches


def _parent(run_id: str) -> tuple[Path, CheckpointMeta, ScaleConfig]:
    """The pretrained checkpoint of `run_id`, its meta and its resolved scale."""
    stage_dir = lake.run_stage_dir(run_id, "pretrain")
    final = stage_dir / checkpoint.FINAL
    if not (final / checkpoint.META_FILE).is_file():
        raise FileNotFoundError(
            f"run {run_id!r} has no pretrained checkpoint ({final}); run `xstage train` first"
        )
    resolved = json.loads((stage_dir / "config.json").read_text())
    return final, read_checkpoint_meta(final), ScaleConfig.model_validate(resolved["scale"])


def _resolve_recipe(parent_meta: CheckpointMeta, scale: ScaleConfig, recipe, overrides):
    recipe = recipe or default_recipe_id(parent_meta.study, parent_meta.scale, "sft")
    recipe_cfg = recipe if isinstance(recipe, RecipeConfig) else load_config("recipes", recipe)
    if recipe_cfg.stage != "sft":
        raise ValueError(f"recipe {recipe_cfg.id!r} is a {recipe_cfg.stage} recipe, not sft")
    pairs = overrides if isinstance(overrides, Mapping) else None
    keys = list(pairs) if pairs is not None else [item.partition("=")[0] for item in overrides]
    if any(key.strip().startswith("model.") for key in keys):
        raise ConfigError("--set model.*: SFT keeps the pretrained shape; use sft.<field>")
    return apply_overrides(scale, recipe_cfg, overrides)[1]


def run(
    run_id: str,
    recipe: str | RecipeConfig | None = None,
    *,
    datasets: Sequence[str] | None = None,
    overrides: Mapping[str, Scalar] | Sequence[str] = (),
    overwrite: bool = False,
    show_progress: bool = True,
) -> TrainResult:
    """Fine-tune the pretrained checkpoint of `run_id`; writes `<run>/sft/final/`.

    `datasets` (chat dataset ids) defaults to the recipe's. A finished SFT with the same
    config is a no-op; an interrupted one resumes from its last periodic checkpoint.
    """
    from training.loop import StageRun, train
    from training.tokenizer import load_tokenizer, tokenizer_hash

    env = distributed.setup()
    parent_dir, parent, scale = _parent(run_id)
    recipe_cfg = _resolve_recipe(parent, scale, recipe, overrides)
    settings = recipe_cfg.sft
    datasets = list(datasets or settings.datasets)
    tokenizer = load_tokenizer(parent_dir)
    max_len = settings.max_seq_len or scale.seq_len
    resolved = {
        "stage": "sft",
        "seed": parent.seed,
        "parent_config_hash": parent.config_hash,
        "parent_sha256": parent.checkpoint_sha256,
        "recipe": recipe_cfg.model_dump(),
        "datasets": datasets,
        "max_seq_len": max_len,
        "tokenizer_hash": tokenizer_hash(tokenizer),
    }
    digest = config_hash(resolved)
    stage_dir = lake.run_stage_dir(run_id, "sft")
    leaves = [
        lake.training_metrics_path(parent.scale, parent.mixture, parent.seed, "sft"),
        lake.runs_path(run_id, "sft"),
    ]
    done = start_stage(stage_dir, leaves, digest, resolved, overwrite, env)
    if done is not None:
        return done_result(run_id, "sft", stage_dir, done)
    batches = _chat_batches(tokenizer, datasets, settings, parent.seed, max_len)
    resume = checkpoint.latest_resumable(stage_dir)
    model = checkpoint.load_model(resume or parent_dir)
    meta = {
        **parent.model_dump(include={"n_params", "n_params_nominal", "n_params_non_embedding"}),
        **{k: resolved[k] for k in ("tokenizer_hash", "datasets")},
        "config_hash": digest,
        "recipe": recipe_cfg.id,
        "study": parent.study,
        "seq_len": max_len,
        "n_examples": len(batches.examples),
        "epochs": settings.epochs,
        "parent_checkpoint": str(parent_dir),
        "parent_sha256": parent.checkpoint_sha256,
    }
    total = settings.epochs * batches.steps_per_epoch
    stage_run = StageRun(
        stage="sft",
        run_id=run_id,
        scale=parent.scale,
        mixture=parent.mixture,
        seed=parent.seed,
        settings=settings,
        total_steps=total,
        stage_dir=stage_dir,
        tokenizer=tokenizer,
        meta=meta,
        description=f"sft {run_id}",
    )
    result = train(model, batches, stage_run, env, resume, show_progress)
    return trained_result(run_id, "sft", result)
