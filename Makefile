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

# Where `make browser` leaves the reason it could not provide chromium; the report test skips with it.
BROWSER_NOTE := $(VENV)/browser-unavailable
# The single-node Slurm cluster `make test` starts for the Slurm executor's test (.ci/slurm): one
# state dir per checkout, under /tmp (short: a Unix socket path is limited to 108 bytes).
SLURM_DIR ?= /tmp/xstage-slurm-$(shell echo "$(CURDIR)" | md5sum | cut -c1-8)
# `make test` spreads test files over this many processes (xdist: `auto` is one per core; a
# file stays on one worker so its module fixtures are built once). PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= auto
# The unit-level loop: everything not marked as slow, dbt, vLLM or browser (pyproject markers).
FAST_MARKERS := not slow and not dbt and not vllm and not browser

.PHONY: setup setup-gpu demo test test-fast browser slurm-start slurm-stop lint format clean

# uv installs when it can (pip is the fallback; XSTAGE_INSTALLER=pip forces pip): tools/setup_venv.sh.
$(BIN)/xstage: pyproject.toml constraints.txt tools/setup_venv.sh
	bash tools/setup_venv.sh $(PYTHON) $(VENV) "$(TORCH_SPEC)"
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
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The report test opens the page in Debian's chromium (DESIGN §10: Debian packages may be
# installed). Missing and permitted (root with apt-get): install it. Otherwise write the reason to
# $(BROWSER_NOTE), so that test skips saying why instead of failing a fresh machine.
browser: setup
	@rm -f $(BROWSER_NOTE)
	@if command -v chromium >/dev/null 2>&1; then exit 0; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "chromium is missing and cannot be installed here (needs root and apt-get)" > $(BROWSER_NOTE); \
	else \
	  echo "installing chromium with apt-get for the report test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    -o DPkg::Lock::Timeout=600 chromium >/dev/null) \
	  || echo "apt-get install chromium failed (see the make output)" > $(BROWSER_NOTE); \
	fi
	@if [ -f $(BROWSER_NOTE) ]; then echo "note: $$(cat $(BROWSER_NOTE)); the browser test will skip"; fi

# A real Slurm for tests/pipeline/test_slurm.py (DESIGN §8): installs slurm-wlm and munge with
# apt-get when missing and permitted, like `browser`; where it cannot, $(SLURM_DIR)/unavailable
# says why and that test skips with the reason. The test finds the cluster by XSTAGE_SLURM_DIR.
slurm-start:
	@.ci/slurm start $(SLURM_DIR)

slurm-stop:
	@.ci/slurm stop $(SLURM_DIR)

# The whole suite, lint first, with the Slurm cluster up for its duration (stopped whatever the
# outcome). pytest's own exit code is make's (5, nothing collected, fails).
test: setup lint browser slurm-start
	XSTAGE_NO_BROWSER="$$(cat $(BROWSER_NOTE) 2>/dev/null)" XSTAGE_SLURM_DIR=$(SLURM_DIR) \
	  $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile; \
	status=$$?; .ci/slurm stop $(SLURM_DIR); exit $$status

# The fast loop while editing (under 2 minutes on 2 cores): unit-level tests only, no lint.
test-fast: setup
	$(BIN)/pytest -q -m "$(FAST_MARKERS)" -n $(PYTEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache dbt_project/target dbt_project/logs
