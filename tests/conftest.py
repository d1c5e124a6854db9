"""Shared test setup: offline hub, a private data dir per test, the offline mirror, markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = REPO_ROOT.parent / "shared" / "hf_mirror"

# Set before any test module imports transformers/datasets: a hub name otherwise costs 20-50 s.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("XSTAGE_HF_MIRROR", str(DEFAULT_MIRROR))
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its lake under its own tmp dir, never ./data."""
    data = tmp_path / "data"
    monkeypatch.setenv("XSTAGE_DATA_DIR", str(data))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    return data


@pytest.fixture
def data_dir(_isolated_data_dir: Path) -> Path:
    """The per-test $XSTAGE_DATA_DIR."""
    return _isolated_data_dir


@pytest.fixture(scope="session")
def hf_mirror() -> Path:
    """The offline Hugging Face mirror (../shared/hf_mirror); tests fail loudly without it."""
    mirror = Path(os.environ["XSTAGE_HF_MIRROR"])
    assert (mirror / "INDEX.json").is_file(), f"XSTAGE_HF_MIRROR={mirror} has no INDEX.json"
    return mirror


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with `slow` tests first, then auto-skip `gpu` tests without CUDA.

    Slow files first: `make test` hands whole files to parallel workers in this order, and a
    long file started last would leave the other worker idle. Files stay contiguous, so module
    fixtures are still built once. The skip is OLMo-core's requires_gpu pattern.
    """
    slow_files = {item.path for item in items if "slow" in item.keywords}
    items.sort(key=lambda item: item.path not in slow_files)
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
