from __future__ import annotations

from pathlib import Path

import pytest

from training.tokenizer import (
    CHAT_TEMPLATE,
    EOS,
    ROLE_TOKENS,
    load_tokenizer,
    render_chat,
    tokenizer_hash,
    train_study_tokenizer,
)

CORPORA = ["demo_web_minimal", "demo_code", "demo_curated"]


@pytest.fixture
def study_tokenizer(demo_lake: Path, tmp_path: Path) -> Path:
    return train_study_tokenizer(CORPORA, 1024, tmp_path / "tok", max_docs=60)


def test_bpe_round_trips_text_and_keeps_specials_whole(study_tokenizer: Path) -> None:
    tokenizer = load_tokenizer(study_tokenizer)
    assert 900 <= len(tokenizer) <= 1024
    text = "def add(a, b):\n    return a + b  # naïve — 日本\n"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text
    for token in (EOS, *ROLE_TOKENS):
        assert tokenizer.encode(token, add_special_tokens=False) == [
            tokenizer.convert_tokens_to_ids(token)
        ]
    assert tokenizer.eos_token == EOS
    assert tokenizer.chat_template == CHAT_TEMPLATE


def test_chat_template_matches_python_renderer(study_tokenizer: Path) -> None:
    tokenizer = load_tokenizer(study_tokenizer)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": " two\n\nlines"},
        {"role": "assistant", "content": "ok"},
    ]
    text, spans = render_chat(messages)
    assert tokenizer.apply_chat_template(messages, tokenize=False) == text
    assert text == (
        "<|system|>\nBe brief.\n<|user|>\nHi there\n<|assistant|>\nHello!<|endoftext|>\n"
        "<|user|>\n two\n\nlines\n<|assistant|>\nok<|endoftext|>\n"
    )
    assert [text[start:end] for start, end in spans] == ["Hello!<|endoftext|>", "ok<|endoftext|>"]


def test_rerun_is_noop_and_a_different_request_is_refused(study_tokenizer: Path) -> None:
    before = (study_tokenizer / "tokenizer.json").stat().st_mtime_ns
    assert train_study_tokenizer(CORPORA, 1024, study_tokenizer, max_docs=60) == study_tokenizer
    assert (study_tokenizer / "tokenizer.json").stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="overwrite"):
        train_study_tokenizer(CORPORA, 2048, study_tokenizer, max_docs=60)
    assert len(tokenizer_hash(load_tokenizer(study_tokenizer))) == 64


def test_missing_corpus_names_the_ingest_command(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="xstage ingest corpus demo_code"):
        train_study_tokenizer(["demo_code"], 512, tmp_path / "tok")


def test_unknown_role_is_rejected() -> None:
    with pytest.raises(ValueError, match="role 'tool'"):
        render_chat([{"role": "tool", "content": "x"}])
