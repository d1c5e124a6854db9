"""Scoring backends, chosen by `--backend`; `hf` never imports vllm.

Used by: xstage score --backend hf|vllm, and scoring.score.score_run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from scoring.backends.base import ScoringBackend
from scoring.backends.hf import HFBackend


def _vllm_backend(model_dir: Path, **options: object) -> ScoringBackend:
    """The vLLM engine, imported only when chosen: vllm is an optional, heavy install."""
    from scoring.backends.vllm import VLLMBackend

    return VLLMBackend(model_dir, **options)


# Backend id -> a constructor taking (model_dir, **options).
BACKENDS: dict[str, Callable[..., ScoringBackend]] = {"hf": HFBackend, "vllm": _vllm_backend}


def load_backend(name: str, model_dir: Path, **options: object) -> ScoringBackend:
    """Instantiate backend `name` on `model_dir` (options: device, dtype, trust_remote_code...)."""
    if name not in BACKENDS:
        raise ValueError(f"backend={name!r} must be one of {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name](model_dir, **options)
