"""The backend protocol and what every backend shares: model-dir checks and the tokenizer.

Used by: xstage score (both backends) and xstage score --model PATH (outside model dirs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from scoring.batching import EncodedChoice, encode_choices
from scoring.forward import ChoiceScore

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
DTYPES = ("auto", "float32", "bfloat16", "float16")


class ModelDirError(ValueError):
    """A model directory is missing, unreadable, incomplete or fails to load."""


class ScoringBackend(Protocol):
    """Scores encoded choices; `name`, `version` and `dtype` land in the predictions rows."""

    name: str
    version: str
    dtype: str

    def encode(self, pairs: Sequence[Sequence[tuple[str, str]]]) -> list[list[EncodedChoice]]:
        """Token ids per (context, continuation) pair, item by item."""
        ...

    def score(self, items: Sequence[Sequence[EncodedChoice]]) -> list[list[ChoiceScore]]:
        """One ChoiceScore per choice, items and choices in input order."""
        ...

    def close(self) -> None:
        """Release the model (and the engine, for vLLM)."""
        ...


def check_model_dir(model_dir: Path) -> Path:
    """Return the resolved dir if it holds a config and a tokenizer; else one clear error."""
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise ModelDirError(f"{path}: model directory does not exist")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ModelDirError(f"{path}: model directory is not readable")
    if not (path / "config.json").is_file():
        raise ModelDirError(f"{path}: no config.json (not a Hugging Face model directory)")
    if not os.access(path / "config.json", os.R_OK):
        raise ModelDirError(f"{path / 'config.json'}: not readable")
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise ModelDirError(
            f"{path}: no tokenizer (expected one of {', '.join(TOKENIZER_FILES)}); "
            "save it with tokenizer.save_pretrained(dir)"
        )
    return path.resolve()


def resolve_dtype(dtype: str, device: str) -> str:
    """`auto` -> float32 on CPU (exact, and CPU bf16 is rarely faster), bfloat16 on CUDA."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r} must be one of {', '.join(DTYPES)}")
    if dtype == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    return dtype


class TokenizerMixin:
    """lm-eval's tokenisation: no special tokens, BOS (else EOS) as the empty-context prefix."""

    tokenizer: Any
    max_length: int

    def encode(self, pairs: Sequence[Sequence[tuple[str, str]]]) -> list[list[EncodedChoice]]:
        """Token ids per (context, continuation) pair, item by item."""
        prefix = self.tokenizer.bos_token_id
        if prefix is None:
            prefix = self.tokenizer.eos_token_id
        assert prefix is not None, "tokenizer has neither a BOS nor an EOS token"
        return encode_choices(pairs, self._encode_batch, prefix, self.max_length)

    def _encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]


def load_tokenizer(model_dir: Path, trust_remote_code: bool) -> Any:
    """The model dir's tokenizer; a failure names the dir."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelDirError(f"{model_dir}: cannot load the tokenizer: {exc}") from exc


def max_length_of(config: Any, default: int = 2048) -> int:
    """The model's context window from its config."""
    for key in ("max_position_embeddings", "n_positions", "max_seq_len"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return default
