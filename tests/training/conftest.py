"""Fixtures for training tests: a real lake with tiny documents and chat leaves.

The leaves are written through xstage.lake.write_parquet with the real schemas, from real text
in the offline mirror (C4, HumanEval, Wikipedia, Alpaca-GPT4), until ingest writes them itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xstage import lake, schemas

DEMO_WEB = ("demo_web_minimal", "demo_web_edu", "demo_web_quality")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny matmuls gain nothing from a second thread, and on a shared 2-core box OpenMP's
    spinning threads made them 5-8x slower (measured); restore the setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _mirror_file(hf_mirror: Path, repo: str, config: str, split: str) -> Path:
    return hf_mirror / repo.replace("/", "__") / config / f"{split}.parquet"


def write_documents(corpus: str, texts: list[str]) -> Path:
    rows = {
        "doc_id": [f"{corpus}-{index}" for index in range(len(texts))],
        "text": texts,
        "source": [corpus] * len(texts),
        "n_chars": [len(text) for text in texts],
        "doc_hash": [hashlib.sha256(text.encode()).hexdigest() for text in texts],
    }
    table = pa.table(rows, schema=schemas.DOCUMENTS)
    return lake.write_parquet(table, lake.documents_part_path(corpus, 0), schemas.DOCUMENTS)


def write_chat(dataset: str, conversations: list[list[dict[str, str]]]) -> Path:
    rows = {
        "example_id": [f"{dataset}-{index}" for index in range(len(conversations))],
        "messages": conversations,
        "source": [dataset] * len(conversations),
        "example_hash": [hashlib.sha256(repr(c).encode()).hexdigest() for c in conversations],
    }
    table = pa.table(rows, schema=schemas.CHAT_EXAMPLES)
    path = lake.chat_examples_path(dataset)
    return lake.write_parquet(table, path, schemas.CHAT_EXAMPLES)


@pytest.fixture(scope="session")
def mirror_texts(hf_mirror: Path) -> dict[str, list[str]]:
    c4 = pq.read_table(_mirror_file(hf_mirror, "allenai/c4", "en", "validation"))
    code = pq.read_table(_mirror_file(hf_mirror, "openai/openai_humaneval", "default", "test"))
    wiki = pq.read_table(_mirror_file(hf_mirror, "wikimedia/wikipedia", "20231101.en", "train"))
    code_texts = [
        prompt + solution
        for prompt, solution in zip(
            code.column("prompt").to_pylist(),
            code.column("canonical_solution").to_pylist(),
            strict=False,
        )
    ]
    return {
        "web": c4.column("text").to_pylist(),
        "code": code_texts,
        "curated": wiki.column("text").to_pylist(),
    }


def write_demo_documents(mirror_texts: dict[str, list[str]]) -> None:
    """Documents for every demo corpus (three web slices of C4, HumanEval, Wikipedia)."""
    web = mirror_texts["web"]
    for index, corpus in enumerate(DEMO_WEB):
        write_documents(corpus, web[index * 100 : (index + 1) * 100])
    write_documents("demo_code", mirror_texts["code"])
    write_documents("demo_curated", mirror_texts["curated"])


@pytest.fixture
def demo_lake(data_dir: Path, mirror_texts: dict[str, list[str]]) -> Path:
    """The demo corpora in this test's lake."""
    write_demo_documents(mirror_texts)
    return data_dir


@pytest.fixture
def chat_lake(data_dir: Path, hf_mirror: Path) -> Path:
    """Alpaca-GPT4 examples (first 64) as Tulu-v2 messages under dataset=alpaca_gpt4."""
    table = pq.read_table(_mirror_file(hf_mirror, "vicgalle/alpaca-gpt4", "default", "train"))
    conversations = []
    for row in table.slice(0, 64).to_pylist():
        prompt = row["instruction"] + ("\n\n" + row["input"] if row["input"] else "")
        conversations.append(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]
        )
    write_chat("alpaca_gpt4", conversations)
    return data_dir


# A shrunken `tiny`: 2 heads of 32 (vLLM's CPU floor), 64-token context, a 512-token BPE.
TINY_SETS = {
    "model.d_model": 64,
    "model.n_head": 2,
    "model.head_dim": 32,
    "model.ffn_dim": 128,
    "model.seq_len": 64,
    "model.vocab_size": 512,
    "train.global_batch_size": 8,
    "train.micro_batch_size": 4,
    "train.lr": 0.01,
    "train.log_every": 1,
}


@pytest.fixture
def tiny_sets() -> dict:
    """`--set` overrides that shrink the tiny scale for tests (a copy per test)."""
    return dict(TINY_SETS)


@pytest.fixture(scope="session")
def session_tokenizer(
    tmp_path_factory: pytest.TempPathFactory, mirror_texts: dict[str, list[str]]
) -> Path:
    """A 512-token BPE on the demo corpora (the study's recipe, shrunk for speed), trained once
    per session in a lake of its own: it depends only on the mirror's texts, and tests only read
    it (the tokenizer tests train their own)."""
    from training.tokenizer import train_study_tokenizer

    root = tmp_path_factory.mktemp("session_tokenizer")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XSTAGE_DATA_DIR", str(root / "data"))
        write_demo_documents(mirror_texts)
        corpora = [*DEMO_WEB, "demo_code", "demo_curated"]
        return train_study_tokenizer(corpora, 512, root / "tokenizer", max_docs=80)


@pytest.fixture
def small_tokenizer(demo_lake: Path, session_tokenizer: Path) -> Path:
    """The session's demo BPE, with the demo corpora in this test's lake beside it."""
    return session_tokenizer


@pytest.fixture
def chat_writer(data_dir: Path):
    """write_chat(dataset, conversations): a chat_examples leaf in this test's lake."""
    return write_chat
