"""Exact continuation token counts for imported log-probs (xstage import lm-eval|lighteval --tokenizer).

Harness logs carry no token counts, so without a tokenizer imported predictions have n_tokens = 0
("not known"). Given the evaluated model's tokenizer, the count follows the lm-eval rule the
scoring contract uses (DESIGN §5): trailing whitespace of the context moves into the
continuation, context + continuation are encoded together and split at the context's length.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


class TokenCounter:
    """Counts continuation tokens with one Hugging Face tokenizer (loaded offline)."""

    def __init__(self, tokenizer: Path | str) -> None:
        from transformers import AutoTokenizer

        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(tokenizer))
        except (OSError, ValueError) as exc:
            raise ValueError(f"--tokenizer {tokenizer}: cannot load a tokenizer: {exc}") from None
        self.name = str(tokenizer)
        self._encode_length = lru_cache(maxsize=4096)(self._length)

    def _length(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def count(self, context: str, continuation: str) -> int:
        """Tokens of `continuation` after `context`, split the lm-eval way."""
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        return self._encode_length(context + continuation) - self._encode_length(context)
