from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from training import checkpoint, pretrain, sft
from training.sft import IGNORE_INDEX, encode_chat
from training.tokenizer import load_tokenizer
from xstage import lake, schemas
from xstage.run_record import read_checkpoint_meta

RUN_ID = "tiny__demo_minimal_65_25_10__seed0"


def test_label_mask_covers_exactly_the_assistant_replies(small_tokenizer: Path) -> None:
    tokenizer = load_tokenizer(small_tokenizer)
    messages = [
        {"role": "user", "content": "Add 2 and 3."},
        {"role": "assistant", "content": "5"},
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": "You are welcome."},
    ]
    ids, labels = encode_chat(tokenizer, messages, max_len=1000)
    trained = [token for token, label in zip(ids, labels, strict=True) if label != IGNORE_INDEX]
    assert all(label in (IGNORE_INDEX, token) for token, label in zip(ids, labels, strict=True))
    # By hand: the loss covers "5<eos>" and "You are welcome.<eos>", nothing else.
    assert tokenizer.decode(trained) == "5<|endoftext|>You are welcome.<|endoftext|>"
    eos = tokenizer.eos_token_id
    assert trained.count(eos) == 2
    user, assistant = (tokenizer.convert_tokens_to_ids(t) for t in ("<|user|>", "<|assistant|>"))
    assert labels[ids.index(user)] == IGNORE_INDEX
    assert labels[ids.index(assistant)] == IGNORE_INDEX
    # The "\n" after <|assistant|> is context, the first reply token is target.
    first = ids.index(assistant)
    assert tokenizer.decode(ids[first + 1 : first + 2]) == "\n"
    assert labels[first + 1] == IGNORE_INDEX
    assert labels[first + 2] == ids[first + 2]
    assert ids == tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
    short_ids, short_labels = encode_chat(tokenizer, messages, max_len=7)
    assert short_ids == ids[:7]
    assert short_labels == labels[:7]


def test_sft_trains_on_chat_and_writes_a_loadable_checkpoint(
    small_tokenizer: Path, tiny_sets: dict, chat_lake: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sets = {**tiny_sets, "train.max_steps": 6}
    pretrain.run(
        "tiny",
        "demo_minimal_65_25_10",
        overrides=sets,
        tokenizer=small_tokenizer,
        show_progress=False,
    )
    overrides = {
        "sft.max_seq_len": 96,
        "sft.global_batch_size": 8,
        "sft.micro_batch_size": 4,
        "sft.max_examples": 32,
        "sft.epochs": 2,
        "sft.lr": 3e-3,
        "sft.log_every": 1,
    }
    result = sft.run(RUN_ID, "demo_sft_tiny", overrides=overrides, show_progress=False)
    final = lake.run_stage_dir(RUN_ID, "sft") / "final"
    meta = read_checkpoint_meta(final)
    # Examples whose prompt fills all 96 tokens carry no loss and are dropped.
    assert 24 <= meta.n_examples <= 32
    assert result.steps == 2 * (meta.n_examples // 8)
    model = AutoModelForCausalLM.from_pretrained(final)
    assert model.config.num_hidden_layers == 2
    assert AutoTokenizer.from_pretrained(final).chat_template
    assert meta.stage == "sft"
    assert meta.datasets == ["alpaca_gpt4"]
    assert (
        meta.parent_sha256
        == read_checkpoint_meta(final.parents[1] / "pretrain/final").checkpoint_sha256
    )
    metrics = pq.read_table(lake.training_metrics_path("tiny", "demo_minimal_65_25_10", 0, "sft"))
    losses = metrics.column("loss").to_pylist()
    assert len(losses) == result.steps
    assert losses[-1] < losses[0]
    runs = pq.read_table(lake.runs_path(RUN_ID, "sft"))
    assert runs.schema == schemas.RUNS
    assert runs.column("origin").to_pylist() == ["sft"]
    assert sft.run(RUN_ID, "demo_sft_tiny", overrides=overrides).skipped


def test_sft_without_pretraining_or_chat_data_says_what_to_run(
    small_tokenizer: Path, tiny_sets: dict
) -> None:
    with pytest.raises(FileNotFoundError, match="run `xstage train` first"):
        sft.run(RUN_ID)
    pretrain.run(
        "tiny",
        "demo_minimal_65_25_10",
        overrides={**tiny_sets, "train.max_steps": 1},
        tokenizer=small_tokenizer,
        show_progress=False,
    )
    with pytest.raises(FileNotFoundError, match="run `xstage ingest chat alpaca_gpt4`"):
        sft.run(RUN_ID)
    with pytest.raises(ValueError, match="model"):
        sft.run(RUN_ID, overrides=["model.n_layer=3"])


def test_a_bad_chat_row_is_named_by_dataset_and_example(
    small_tokenizer: Path, tiny_sets: dict, chat_writer
) -> None:
    pretrain.run(
        "tiny",
        "demo_minimal_65_25_10",
        overrides={**tiny_sets, "train.max_steps": 1},
        tokenizer=small_tokenizer,
        show_progress=False,
    )
    good = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    bad = [{"role": "user", "content": "hi"}, {"role": "robot", "content": "beep"}]
    chat_writer("lima", [good] * 8 + [bad])
    with pytest.raises(ValueError, match=r"dataset=lima example_id=lima-8: .*role 'robot'"):
        sft.run(RUN_ID, datasets=["lima"])


def test_sft_resumes_from_its_last_checkpoint_on_the_same_curve(
    small_tokenizer: Path, tiny_sets: dict, chat_lake: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import shutil

    pretrain.run(
        "tiny",
        "demo_minimal_65_25_10",
        overrides={**tiny_sets, "train.max_steps": 2},
        tokenizer=small_tokenizer,
        show_progress=False,
    )
    overrides = {
        "max_seq_len": 96,
        "global_batch_size": 4,
        "micro_batch_size": 2,
        "max_examples": 24,
        "epochs": 2,
        "checkpoint_every": 4,
        "log_every": 1,
    }
    first = sft.run(RUN_ID, overrides=overrides, show_progress=False)
    metrics_path = lake.training_metrics_path("tiny", "demo_minimal_65_25_10", 0, "sft")
    expected = pq.read_table(metrics_path).column("loss").to_pylist()
    stage_dir = lake.run_stage_dir(RUN_ID, "sft")
    shutil.rmtree(stage_dir / "final")  # as if killed after the last periodic checkpoint
    last = checkpoint.latest_resumable(stage_dir)
    assert last is not None
    with caplog.at_level("INFO", logger="training.loop"):
        again = sft.run(RUN_ID, overrides=overrides, show_progress=False)
    assert f"resuming {RUN_ID} sft from step {int(last.name.split('-')[1])}" in caplog.text
    assert again.steps == first.steps
    assert not again.skipped
    assert pq.read_table(metrics_path).column("loss").to_pylist() == pytest.approx(
        expected, rel=1e-6
    )
