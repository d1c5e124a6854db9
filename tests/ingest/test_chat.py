"""Chat data -> chat_examples in Tulu-v2 messages format (Alpaca and LIMA from the mirror)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from ingest.chat import ingest_chat
from ingest.rejects import InvalidDataError
from runner.cli import app
from tests.ingest.conftest import write_mirror_file
from xstage import lake
from xstage.config import load_config
from xstage.schemas import CHAT_EXAMPLES


def test_alpaca_becomes_user_and_assistant_turns(hf_mirror: Path):
    result = ingest_chat(load_config("chat", "alpaca_gpt4"))
    assert result.n_rows == 999
    assert result.path == lake.chat_examples_path("alpaca_gpt4")
    assert pq.read_schema(result.path).equals(CHAT_EXAMPLES)
    rows = pq.read_table(result.path).to_pylist()
    raw = pq.read_table(
        hf_mirror / "vicgalle__alpaca-gpt4" / "default" / "train.parquet"
    ).to_pylist()
    for row, source in zip(rows, raw, strict=True):
        user, assistant = row["messages"]
        expected = source["instruction"] + (
            f"\n\n{source['input']}" if source["input"].strip() else ""
        )
        assert user == {"role": "user", "content": expected}
        assert assistant == {"role": "assistant", "content": source["output"]}
    assert sum(bool(source["input"].strip()) for source in raw) == 412
    assert rows[0]["example_id"] == "train-000000"


def test_lima_conversations_alternate_user_and_assistant():
    result = ingest_chat(load_config("chat", "lima"))
    rows = pq.read_table(result.path).to_pylist()
    assert len(rows) == 1029
    assert Counter(len(row["messages"]) for row in rows) == {2: 1000, 4: 15, 6: 10, 8: 3, 20: 1}
    for row in rows:
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"] * (
            len(row["messages"]) // 2
        )
    assert ingest_chat(load_config("chat", "lima")).status == "skipped"


def test_bad_conversations_fail_or_are_recorded(temp_mirror: Path):
    conversations = [["hi", "hello"], ["question", ""], ["only the user"]]
    table = pa.table({"conversations": conversations, "source": ["", "", ""]})
    write_mirror_file(temp_mirror, "GAIR/lima", None, "train", table)
    config = load_config("chat", "lima")
    with pytest.raises(
        InvalidDataError,
        match=r"GAIR/lima \(config default\) split train row 1 field 'messages\[1\]\.content': empty text \(and 1 more",
    ):
        ingest_chat(config)
    result = ingest_chat(config, skip_invalid=True)
    assert (result.n_rows, result.n_rejected) == (1, 2)


def test_cli_ingest_chat_prints_a_summary():
    result = CliRunner().invoke(app, ["ingest", "chat", "alpaca_gpt4", "--max-examples", "5"])
    assert result.exit_code == 0, result.output
    assert "alpaca_gpt4" in result.output
    assert pq.read_metadata(lake.chat_examples_path("alpaca_gpt4")).num_rows == 5


def test_tulu_messages_rows_are_kept_with_their_ids(temp_mirror: Path):
    messages = [
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
        ],
        [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hello?"}],
    ]
    table = pa.table(
        {"dataset": ["flan", "sharegpt"], "id": ["flan_0", "sharegpt_1"], "messages": messages}
    )
    write_mirror_file(temp_mirror, "allenai/tulu-v2-sft-mixture", None, "train", table)
    result = ingest_chat(load_config("chat", "tulu_v2_mix"), skip_invalid=True)
    rows = pq.read_table(result.path).to_pylist()
    assert [row["example_id"] for row in rows] == ["flan_0"]
    assert rows[0]["messages"] == messages[0]
    sidecar = lake.rejects_path(result.path).read_text()
    assert "expected 'assistant', got 'user'" in sidecar
