"""Scoring backends, chosen by `--backend` and imported lazily so `hf` never imports vllm.

Used by: xstage score --backend hf|vllm, and scoring.score.score_run.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from scoring.backends.base import ScoringBackend

# Backend id -> "module:attr". Plain dict, imported on use (STYLE §2.3).
BACKENDS: dict[str, str] = {
    "hf": "scoring.backends.hf:HFBackend",
    "vllm": "scoring.backends.vllm:VLLMBackend",
}


def load_backend(name: str, model_dir: Path, **options: object) -> ScoringBackend:
    """Instantiate backend `name` on `model_dir` (options: device, dtype, trust_remote_code...)."""
    if name not in BACKENDS:
        raise ValueError(f"backend={name!r} must be one of {', '.join(sorted(BACKENDS))}")
    module, _, attr = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)(model_dir, **options)
