"""The Hugging Face transformers backend: packed shared-context rows, length-sorted batches.

Used by: xstage score --backend hf (the default) and scoring.score.score_run.
The batch size is a token budget (rows x longest row); on out-of-memory it halves and the
failed batch is retried, so one setting serves a laptop CPU and an H200.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError

from scoring.backends.base import (
    ModelDirError,
    TokenizerMixin,
    check_model_dir,
    load_tokenizer,
    max_length_of,
    resolve_dtype,
)
from scoring.batching import EncodedChoice, PackedRow, pack_items, plan_batches
from scoring.forward import ChoiceScore, score_lines

logger = logging.getLogger(__name__)

# Padded tokens per forward pass to start from; OOM halves it. CPU gains little past ~16k.
DEFAULT_BATCH_TOKENS = {"cpu": 16384, "cuda": 131072}
# Configs whose logits are not plain lm_head(hidden): this backend would silently differ.
UNSUPPORTED_CONFIG_KEYS = ("final_logit_softcapping", "logit_scale", "output_multiplier_scale")


def load_model(
    model_dir: Path, device: str, dtype: str, trust_remote_code: bool
) -> torch.nn.Module:
    """A causal LM in eval mode with SDPA attention (it takes our 4-D boolean block mask)."""
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(
            model_dir,
            dtype=getattr(torch, dtype),
            attn_implementation="sdpa",
            trust_remote_code=trust_remote_code,
        )
    except (OSError, ValueError, json.JSONDecodeError, SafetensorError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelDirError(
            f"{model_dir}: cannot load the model (unloadable weights or config: {first_line}); "
            f"re-download or re-save it{_remote_code_hint(model_dir, trust_remote_code)}"
        ) from None
    for key in UNSUPPORTED_CONFIG_KEYS:
        if getattr(model.config, key, None):
            raise ModelDirError(
                f"{model_dir}: config sets {key}; the HF backend assumes plain logits"
            )
    return model.to(device).eval()


def _remote_code_hint(model_dir: Path, trust_remote_code: bool) -> str:
    """A pointer to --trust-remote-code when the dir ships its own modelling code."""
    try:
        config = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError):
        return ""
    if "auto_map" in config and not trust_remote_code:
        return " (the directory ships its own model code via auto_map; pass --trust-remote-code to run it)"
    return ""


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA OOM, or the CPU allocator failing."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)


class HFBackend(TokenizerMixin):
    """Scores choices with a transformers model: one packed row per item, fp32 log-softmax."""

    name = "hf"

    def __init__(
        self,
        model_dir: Path,
        device: str = "cpu",
        dtype: str = "auto",
        trust_remote_code: bool = False,
        batch_tokens: int | None = None,
        shared_context: bool = True,
    ) -> None:
        import transformers

        model_dir = check_model_dir(model_dir)
        self.version = transformers.__version__
        self.device = torch.device(device)
        self.dtype = resolve_dtype(dtype, device)
        self.tokenizer = load_tokenizer(model_dir, trust_remote_code)
        self.model = load_model(model_dir, device, self.dtype, trust_remote_code)
        self.max_length = max_length_of(self.model.config)
        self.batch_tokens = batch_tokens or DEFAULT_BATCH_TOKENS[self.device.type]
        self.shared_context = shared_context
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else 0

    def score(self, items: Sequence[Sequence[EncodedChoice]]) -> list[list[ChoiceScore]]:
        """One ChoiceScore per choice, items and choices in input order."""
        rows = pack_items(items, self.shared_context)
        row_scores = self._score_rows(rows)
        if self.shared_context:
            return row_scores
        flat = iter(score for scores in row_scores for score in scores)
        return [[next(flat) for _ in choices] for choices in items]

    def _score_rows(self, rows: Sequence[PackedRow]) -> list[list[ChoiceScore]]:
        """Score every row, halving the token budget and retrying a batch on out-of-memory."""
        results: list[list[ChoiceScore] | None] = [None] * len(rows)
        todo = list(range(len(rows)))
        while todo:
            done: set[int] = set()
            for batch in plan_batches([rows[i] for i in todo], self.batch_tokens):
                lines = [[todo[i] for i in line] for line in batch]
                try:
                    scores = self._forward(rows, lines)
                except (torch.OutOfMemoryError, RuntimeError) as error:
                    if not is_out_of_memory(error) or len(lines) == 1:
                        raise
                    self._back_off(len(lines))
                    break
                indices = [index for line in lines for index in line]
                for index, score in zip(indices, scores, strict=True):
                    results[index] = score
                done.update(indices)
            todo = [index for index in todo if index not in done]
        return results  # type: ignore[return-value]

    def _forward(
        self, rows: Sequence[PackedRow], lines: list[list[int]]
    ) -> list[list[ChoiceScore]]:
        packed = [[rows[index] for index in line] for line in lines]
        return score_lines(self.model, packed, self.pad_id, self.device)

    def _back_off(self, n_lines: int) -> None:
        self.batch_tokens = max(1, self.batch_tokens // 2)
        logger.warning(
            "out of memory on %d lines; batch budget now %d tokens", n_lines, self.batch_tokens
        )
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def close(self) -> None:
        """Drop the model so the next checkpoint's fits."""
        self.model = None
