"""Checkpoint directories: atomic save_pretrained dirs with tokenizer, meta.json and resume state.

Used by: xstage train and xstage sft (write, resume), and anything that loads
`<data>/runs/<run_id>/<stage>/final/` with AutoModelForCausalLM.from_pretrained.
A checkpoint is written into `.tmp-<name>-<pid>/` beside its final place and renamed, so a
kill at any moment leaves either the complete directory or none (temp dirs are swept on resume).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from xstage.run_record import META_FILE, CheckpointMeta

FINAL = "final"
TRAINER_STATE_FILE = "trainer_state.pt"
STEP_PREFIX = "step-"


def step_name(step: int) -> str:
    """`step-0000100`: periodic checkpoints sort by name."""
    return f"{STEP_PREFIX}{step:07d}"


def weights_sha256(directory: Path) -> str:
    """sha256 over the checkpoint's safetensors files, in name order."""
    digest = hashlib.sha256()
    files = sorted(directory.glob("*.safetensors"))
    assert files, f"{directory}: no safetensors files"
    for path in files:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def save(
    stage_dir: Path,
    name: str,
    model,
    tokenizer,
    meta: dict,
    trainer_state: Callable[[CheckpointMeta], dict] | None = None,
    state_dict: dict | None = None,
) -> Path:
    """Write one checkpoint atomically; returns its final path. `meta` gains the weights sha256.

    The meta is validated as a CheckpointMeta before anything is renamed into place, so a field
    training forgot is an error here, not in the scoring run that reads it. `trainer_state(meta)` builds the resume state from the finished meta (None: no resume
    state, as in `final/`). `state_dict` is the gathered weights of a sharded model.
    """
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one bar per shard write is noise in our progress display
    stage_dir.mkdir(parents=True, exist_ok=True)
    final = stage_dir / name
    tmp = stage_dir / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    record = CheckpointMeta.model_validate({**meta, "checkpoint_sha256": weights_sha256(tmp)})
    (tmp / META_FILE).write_text(record.to_json())
    if trainer_state is not None:
        torch.save(trainer_state(record), tmp / TRAINER_STATE_FILE)
    if final.exists():  # re-saving a step after a resume: swap, never a half-visible dir
        old = stage_dir / f".old-{name}-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
    return final


def load_model(checkpoint_dir: Path):
    """The fp32 model of a checkpoint (weights as trained; no per-shard progress bars)."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return AutoModelForCausalLM.from_pretrained(checkpoint_dir, dtype="float32")


def sweep_partial(stage_dir: Path) -> list[Path]:
    """Remove temp dirs a killed run left behind; return what was removed."""
    removed = []
    for path in stage_dir.glob(".tmp-*") if stage_dir.is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    for path in stage_dir.glob(".old-*") if stage_dir.is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def periodic(stage_dir: Path) -> list[Path]:
    """Finished periodic checkpoints, oldest first."""
    if not stage_dir.is_dir():
        return []
    found = [p for p in stage_dir.glob(f"{STEP_PREFIX}*") if (p / META_FILE).is_file()]
    return sorted(found)


def latest_resumable(stage_dir: Path) -> Path | None:
    """The newest periodic checkpoint that carries optimizer and sampler state."""
    candidates = [p for p in periodic(stage_dir) if (p / TRAINER_STATE_FILE).is_file()]
    return candidates[-1] if candidates else None


def prune(stage_dir: Path, keep_last: int | None) -> None:
    """Delete all but the newest `keep_last` periodic checkpoints (None keeps all)."""
    if keep_last is None:
        return
    for path in periodic(stage_dir)[:-keep_last]:
        shutil.rmtree(path)
