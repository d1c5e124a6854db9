"""Shared test setup: offline hub, a private data dir per test, the offline mirror, markers,
and artifacts built once per `pytest` run (also across xdist workers)."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def build_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Any]) -> Any:
    """`make(folder)` once per test run, its (picklable) value shared by every xdist worker.

    Several test files read the same slow artifact (a built warehouse); `make test` spreads
    files over workers, and a session fixture is per worker. The first worker to get here
    builds under the run's temp root while holding a file lock; the others wait, then read
    the pickled value. Callers treat the folder as read-only.
    """
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's temp folder, shared by its workers (gw0, gw1, ...)
    folder = root / "shared" / name
    folder.mkdir(parents=True, exist_ok=True)
    value_path = folder / "value.pickle"
    with (folder / "build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not value_path.exists():
            work = folder / "work"
            shutil.rmtree(work, ignore_errors=True)  # a worker that failed here left this
            work.mkdir()
            staging = value_path.with_suffix(".tmp")
            staging.write_bytes(pickle.dumps(make(work)))
            staging.replace(value_path)
        return pickle.loads(value_path.read_bytes())


@pytest.fixture(scope="session")
def synthetic_warehouse(tmp_path_factory: pytest.TempPathFactory):
    """The generated lake (warehouse.synthetic, 40 items) and its built warehouse, read-only.

    One real `dbt build` for the whole run instead of one per reading test file (marts,
    slices, DAG, report); tests that rebuild or edit a lake make their own.
    """
    from tests.warehouse.conftest import build_synthetic

    return build_once(tmp_path_factory, "synthetic_warehouse", build_synthetic)


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
