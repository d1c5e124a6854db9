"""Scoring fixtures: a tiny random Llama with a byte-level BPE tokenizer, toy benchmark configs
and benchmark_items leaves written through xstage.lake with the real schema."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest

from xstage import lake
from xstage.schemas import BENCHMARK_ITEMS

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "the",
    "mat",
    "while",
    "a",
    "dog",
    "ran",
    "to",
    "the",
    "park",
    "and",
    "the",
    "bird",
    "sang",
    "in",
    "a",
    "tree",
    "answer",
    "question",
    "water",
    "fire",
    "stone",
    "paper",
    "glass",
    "river",
    "mountain",
    "hippopotamus",
    "elephant",
]
TRAIN_TEXT = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))] * 3

TOY_CONFIGS = {
    "toy_rc": {"formulation": "rc", "n_fewshot": 0, "template": "Q: {question}\nA:"},
    "toy_mc": {"formulation": "mc", "n_fewshot": 0, "template": "{question}"},
    "toy_fewshot": {"formulation": "rc", "n_fewshot": 2, "template": "Q: {question}\nA:"},
    "toy_partial": {"formulation": "rc", "n_fewshot": 0, "template": "{sentence}"},
    "toy_big": {"formulation": "rc", "n_fewshot": 0, "template": "Q: {question}\nA:"},
}


def build_tokenizer(out_dir: Path):
    """A byte-level BPE (~512 tokens) that merges ' cat', ' the', ... so boundaries matter."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TRAIN_TEXT, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    fast.save_pretrained(out_dir)
    return fast


def build_model_dir(out_dir: Path, seed: int = 0) -> Path:
    """save_pretrained dir of a 2-layer Llama (head_dim 64: vLLM's CPU attention needs >= 32)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(out_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        max_position_embeddings=256,
        initializer_range=0.2,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(out_dir)
    return out_dir


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models gain nothing from a second thread, and on the shared 2-core box OpenMP
    spin-waiting under oversubscription made these tests ~7x slower (210 s vs 28 s)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Llama + byte-level tokenizer, saved once per session."""
    return build_model_dir(tmp_path_factory.mktemp("tiny_llama"))


def item_row(
    benchmark: str, index: int, question: str, choices: list[str], gold: int, **extra
) -> dict:
    content = json.dumps([index, question, choices, gold, extra], sort_keys=True)
    return {
        "item_id": f"validation-{index:06d}",
        "split": "validation",
        "context": question,
        "choices": choices,
        "gold_index": gold,
        "category": "commonsense",
        "n_choices": len(choices),
        "item_hash": hashlib.sha256(content.encode()).hexdigest(),
        "source": benchmark,
        "choice_contexts": extra.get("choice_contexts"),
        "continuation": extra.get("continuation"),
    }


def toy_items(benchmark: str, n_items: int = 6) -> list[dict]:
    """Rendered items with varied lengths, trailing spaces, multi-token and 2-4 choices."""
    rows = []
    for i in range(n_items):
        words = WORDS[i % 7 : i % 7 + 3 + i % 5]
        choices = [
            " ".join(WORDS[(i + k) % len(WORDS) : (i + k) % len(WORDS) + 1 + k])
            for k in range(2 + i % 3)
        ]
        gold = i % len(choices)
        if benchmark == "toy_partial":
            contexts = [f"{' '.join(words)} {choice}" for choice in choices]
            row = item_row(
                benchmark,
                i,
                " ".join(words),
                choices,
                gold,
                choice_contexts=contexts,
                continuation=" sat on the mat",
            )
        elif benchmark == "toy_mc":
            listed = "".join(f"\n{'ABCD'[k]}. {choice}" for k, choice in enumerate(choices))
            row = item_row(
                benchmark, i, f"Question: {' '.join(words)}{listed}\nAnswer:", choices, gold
            )
        else:
            trailing = " " if i % 2 else ""
            row = item_row(benchmark, i, f"Q: {' '.join(words)}\nA:{trailing}", choices, gold)
        rows.append(row)
    return rows


def write_items(benchmark: str, rows: list[dict]) -> Path:
    return lake.write_parquet(
        pa.Table.from_pylist(rows, schema=BENCHMARK_ITEMS),
        lake.benchmark_items_path(benchmark),
        BENCHMARK_ITEMS,
    )


def write_config(config_dir: Path, benchmark: str, **settings) -> Path:
    import yaml

    body = {
        "id": benchmark,
        "display_name": benchmark,
        "converter": "toy",
        "source": {"dataset": "toy/toy", "split": "validation"},
        "category": "commonsense",
        "choice_prefix": " ",
        "chance_accuracy": 0.25,
        "license": "CC0",
        **settings,
    }
    path = config_dir / "benchmarks" / f"{benchmark}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.fixture
def toy_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> dict[str, list[dict]]:
    """Toy benchmark configs in a temp XSTAGE_CONFIG_DIR and their items in the test's lake."""
    config_dir = tmp_path / "configs"
    monkeypatch.setenv("XSTAGE_CONFIG_DIR", str(config_dir))
    written = {}
    for benchmark, settings in TOY_CONFIGS.items():
        write_config(config_dir, benchmark, **settings)
        rows = toy_items(benchmark, 600 if benchmark == "toy_big" else 6)
        write_items(benchmark, rows)
        written[benchmark] = rows
    return written
