"""--tokenizer: exact continuation token counts by the lm-eval split rule."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from importers.batch import RunKey
from importers.lm_eval import import_lm_eval
from importers.tokens import TokenCounter
from xstage import lake

from .conftest import TOY_MAP, toy_lines, write_samples


@pytest.fixture
def word_tokenizer(tmp_path: Path) -> Path:
    """A word-level tokenizer: every whitespace/punctuation-split piece is one token."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = [
        "[UNK]",
        "Question",
        ":",
        "What",
        "is",
        "plus",
        "one",
        "?",
        "Answer",
        "0",
        "1",
        "2",
        "3",
    ]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    folder = tmp_path / "tokenizer"
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]").save_pretrained(folder)
    return folder


def test_counts_follow_the_lm_eval_split(word_tokenizer):
    counter = TokenCounter(word_tokenizer)
    assert counter.count("Question: What is 1 plus one?\nAnswer:", " 2") == 1
    assert counter.count("Answer: ", "2 3") == 2  # trailing context space joins the continuation


def test_import_with_a_tokenizer_stores_token_counts(tmp_path, data_dir, word_tokenizer):
    path = write_samples(tmp_path, "toy_task", toy_lines(2))
    import_lm_eval(
        [path], RunKey("m", "pretrain", "1B", "m"), task_map=TOY_MAP, tokenizer=word_tokenizer
    )
    rows = pq.read_table(lake.predictions_path("1B", "m", 0, "pretrain", "toy_task", 0)).to_pylist()
    assert {row["n_tokens"] for row in rows} == {1}


def test_an_unloadable_tokenizer_is_a_clear_error(tmp_path, data_dir):
    with pytest.raises(ValueError, match="cannot load a tokenizer"):
        TokenCounter(tmp_path / "missing")
