from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from training import checkpoint, pretrain
from xstage import lake, schemas
from xstage.config import ConfigError
from xstage.run_record import read_checkpoint_meta

MIXTURE = "demo_edu_45_35_20"
RUN_ID = "tiny__demo_edu_45_35_20__seed0"


@pytest.fixture
def train(small_tokenizer: Path, tiny_sets: dict):
    def run(**extra):
        return _train(small_tokenizer, tiny_sets, **extra)

    return run


def _train(tokenizer: Path, tiny_sets: dict, **extra):
    sets = {**tiny_sets, "train.max_steps": 30, "train.checkpoint_every": 10, **extra}
    return pretrain.run(
        "tiny", MIXTURE, seed=0, overrides=sets, tokenizer=tokenizer, show_progress=False
    )


def test_loss_decreases_and_every_checkpoint_loads(train) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = train()
    assert (result.steps, result.skipped) == (30, False)
    metrics = pq.read_table(lake.training_metrics_path("tiny", MIXTURE, 0, "pretrain"))
    assert metrics.schema == schemas.TRAINING_METRICS
    losses = metrics.column("loss").to_pylist()
    assert metrics.column("step").to_pylist() == list(range(1, 31))
    assert losses[0] > 6.0  # ~ln(512) at init
    # A 512-token BPE has a unigram entropy near 5.5 nats: ending below it means learning.
    assert sum(losses[-5:]) / 5 < losses[0] - 0.7
    stage_dir = lake.run_stage_dir(RUN_ID, "pretrain")
    written = [stage_dir / "step-0000010", stage_dir / "step-0000020", stage_dir / "final"]
    assert {p.name for p in stage_dir.iterdir()} == {"config.json", *(p.name for p in written)}
    for directory in written:
        model = AutoModelForCausalLM.from_pretrained(directory)
        assert model.config.vocab_size == 512
        assert model.config.max_position_embeddings == 2048  # a cap; seq_len is in meta
        assert AutoTokenizer.from_pretrained(directory).chat_template
    meta = read_checkpoint_meta(stage_dir / "final")
    assert meta.seq_len == 64
    assert meta.checkpoint_step == 30
    assert meta.n_tokens_seen == 30 * 8 * 64
    assert meta.checkpoint_sha256 == checkpoint.weights_sha256(stage_dir / "final")
    runs = pq.read_table(lake.runs_path(RUN_ID, "pretrain"))
    assert runs.schema == schemas.RUNS
    assert runs.column("checkpoint_step").to_pylist() == [10, 20, 30]
    assert set(runs.column("origin").to_pylist()) == {"train"}
    row = runs.to_pylist()[-1]
    assert row["n_params"] == 64 * 512 + 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64
    assert row["checkpoint_path"] == str(stage_dir / "final")
    assert row["config_hash"]


def test_rerun_is_a_noop_and_a_changed_config_is_refused(
    train, small_tokenizer: Path, tiny_sets: dict
) -> None:
    first = train(**{"train.max_steps": 4, "train.checkpoint_every": 0})
    again = train(**{"train.max_steps": 4, "train.checkpoint_every": 0})
    assert again.skipped
    assert again.steps == first.steps == 4
    with pytest.raises(ValueError, match="overwrite"):
        train(**{"train.max_steps": 5, "train.checkpoint_every": 0})
    sets = {**tiny_sets, "train.max_steps": 5}
    redone = pretrain.run(
        "tiny",
        MIXTURE,
        overrides=sets,
        tokenizer=small_tokenizer,
        overwrite=True,
        show_progress=False,
    )
    assert redone.steps == 5
    assert not redone.skipped
    runs = pq.read_table(lake.runs_path(RUN_ID, "pretrain"))
    assert runs.column("checkpoint_step").to_pylist() == [5]


def test_missing_corpus_names_the_ingest_command(train) -> None:
    shutil.rmtree(lake.documents_dir("demo_code"))
    with pytest.raises(FileNotFoundError, match=r"run `xstage ingest corpus demo_code`"):
        train()


def test_bad_override_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"train\.nope"):
        pretrain.plan("tiny", MIXTURE, overrides=["train.nope=1"])
    with pytest.raises(ConfigError, match="lr"):
        pretrain.plan("tiny", MIXTURE, overrides=["train.lr=-1"])
    plan = pretrain.plan("tiny", MIXTURE, overrides=["model.n_layer=1", "lr=0.5"])
    assert plan.scale.n_layer == 1
    assert plan.recipe.train.lr == 0.5
    assert plan.total_steps == 160_000 // (8 * 256)


def test_without_a_tokenizer_the_study_one_is_trained_once_and_shipped(
    demo_lake: Path, tiny_sets: dict
) -> None:
    from training.tokenizer import load_tokenizer, tokenizer_hash

    sets = {**tiny_sets, "train.max_steps": 2}
    result = pretrain.run("tiny", MIXTURE, overrides=sets, show_progress=False)
    study_dir = lake.tokenizer_dir("demo")
    study_tokenizer = load_tokenizer(study_dir)
    assert len(study_tokenizer) <= 512  # trained at the scale's vocab_size
    meta = read_checkpoint_meta(result.checkpoint_dir)
    assert meta.tokenizer_hash == tokenizer_hash(study_tokenizer)
    assert tokenizer_hash(load_tokenizer(result.checkpoint_dir)) == meta.tokenizer_hash
    trained_at = (study_dir / "tokenizer.json").stat().st_mtime_ns
    other = pretrain.run("tiny", "demo_quality_25_45_30", overrides=sets, show_progress=False)
    assert read_checkpoint_meta(other.checkpoint_dir).tokenizer_hash == meta.tokenizer_hash
    assert (study_dir / "tokenizer.json").stat().st_mtime_ns == trained_at
