#!/usr/bin/env bash
# One lent-GPU session: the packed-scoring check and the training-throughput benchmarks.
#
# Used by: the one device call (repo root, $OUT set, `.whl` carried; see BENCHMARKS.md "GPU"):
#     bash benchmarks/gpu_session.sh
#   and its CPU rehearsal (same steps at tiny sizes; a python without pydantic proves the wheels):
#     GPU_SESSION_SMOKE=1 PYTHON=/tmp/gpusim/bin/python GPU_SESSION_WHEELS=/tmp/whl311 \
#         OUT=/tmp/gpu_session_out bash benchmarks/gpu_session.sh
#
# The GPU image has torch, transformers, pyarrow, yaml, rich but no pydantic: the carried wheels
# (.whl/, cp312, git-ignored via .git/info/exclude) go to $GPU_SESSION_SITE, and the checkout is
# put on PYTHONPATH (it is not pip-installed there). Steps, in priority order, each under its own
# timeout and all under one wall budget (GPU_SESSION_BUDGET_S, default 400 s), so a hang or a
# slow compile cannot eat the rest: (a) gpu_score_check.py (packed vs naive at 240M and 1B),
# (b) train_bench.py 240M + 1B eager, (c) train_bench.py 240M --compile. A failing step does not
# stop the next; the exit status is 1 if any step failed or was skipped. A rerun can take a
# subset: GPU_SESSION_STEPS="env train_compile" (names as in steps.tsv).
# $OUT gets: session.log (everything), steps.tsv (step, rc, seconds), score_check.json,
# train_eager.json, train_compile.json.
#
# Follow-up steps (not in the default list; ~3.5 min in all on an H200), for the chunked loss
# (training/loss.py) and the packed-scoring diagnosis, run in this order:
#     GPU_SESSION_STEPS="env train_loss score_diag train_micro16 train_compile2" \
#         GPU_SESSION_BUDGET_S=230 bash benchmarks/gpu_session.sh
# (d) train_loss: 240M + 1B eager, full-logits vs chunked loss, 10 steps, plus a 2-step
# profile of each (profiles/); (e) train_compile2 (last: it gets what the budget has left):
# 240M + 1B --compile, chunked loss, and a profile of each; (f) score_diag: 1B then 240M (the reverse of score_check's order), HellaSwag, 1,024 items,
# packed timed twice (new batch shapes, then the same again), with SDPA held to the efficient
# and to the cuDNN backend, the backend SDPA picks, and a profile of one more packed pass on
# unseen shapes; (g) train_micro16: 240M chunked at micro-batch 16 (the memory the loss frees).
# They add train_loss.json, train_compile2.json, score_diag.json, train_micro16.json and
# profiles/*.txt to $OUT.
#
# Per-new-shape check of packed scoring (~2 min in all on an H200 with env; not in the default
# list): `score_shapes` selects four steps, each a FRESH process, in this order:
#     GPU_SESSION_STEPS="env score_shapes" GPU_SESSION_BUDGET_S=150 bash benchmarks/gpu_session.sh
# score_shapes.{scorer,default,naive,efficient}: gpu_score_check.py --first-pass VARIANT, 240M
# then 1B (own item seeds, so neither meets the other's batch shapes), 1,024 HellaSwag items: a
# 64-item warm-up, one timed pass over unseen batch shapes, the same pass again; `scorer` is
# the real scorer's path (SDPA held to scoring.forward.CUDA_ATTENTION) and also checks its
# log-probs against the naive path; `default` is torch's own SDPA choice (cuDNN on sm90),
# `efficient` the memory-efficient kernel only. Adds score_shapes_<variant>.json to $OUT.
# (A step name's part before a dot selects the group: "score_shapes.scorer" runs one.)
#
# Training levers one at a time (issue 16; not in the default list; ~4-5 min on an H200):
#     GPU_SESSION_STEPS="env train_levers score_check" GPU_SESSION_BUDGET_S=470 \
#         bash benchmarks/gpu_session.sh
# train_levers.240M then train_levers.1B, each a fresh process: gpu_train_levers.py at the
# paper's shapes (tied vocab 100,864, context 4096, bf16), 15 steps per variant (3 untimed):
# eager -> regional compile -> + SDPA flash/efficient -> + fused AdamW, each a fresh model on
# the same batches; the loss curve of each is compared with eager's. Adds
# train_levers_240m.json and train_levers_1b.json to $OUT.

set -u -o pipefail

SMOKE=${GPU_SESSION_SMOKE:-0}
PY=${PYTHON:-python3}
WHEELS=${GPU_SESSION_WHEELS:-.whl}
SITE=${GPU_SESSION_SITE:-/tmp/site}
BUDGET=${GPU_SESSION_BUDGET_S:-400}
WANTED=" ${GPU_SESSION_STEPS:-env score_check train_eager train_compile} "  # a rerun may pick
if [[ -z "${OUT:-}" ]]; then
    if [[ $SMOKE == 1 ]]; then OUT=$(mktemp -d); else echo "OUT is not set" >&2; exit 2; fi
fi
mkdir -p "$OUT"
LOG=$OUT/session.log
STEPS=$OUT/steps.tsv
: >"$LOG"
printf 'step\trc\tseconds\n' >"$STEPS"
failed=0

note() { echo "[gpu_session +${SECONDS}s] $*" | tee -a "$LOG"; }

# step NAME LIMIT_S CMD...: run CMD under min(LIMIT_S, what is left of the budget), log it all.
step() {
    local name=$1 limit=$2 left=$((BUDGET - SECONDS)) start=$SECONDS rc
    shift 2
    [[ $WANTED == *" $name "* || $WANTED == *" ${name%%.*} "* ]] || return 0
    ((limit > left)) && limit=$left
    if ((limit < 15)); then
        note "SKIP $name: ${left}s of the ${BUDGET}s budget left"
        printf '%s\tskipped\t0\n' "$name" >>"$STEPS"
        failed=1
        return
    fi
    note "=== $name (timeout ${limit}s): $*"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    ((rc == 124 || rc == 137)) && note "TIMEOUT $name after ${limit}s"
    ((rc != 0)) && failed=1
    note "=== $name: rc=$rc in $((SECONDS - start))s"
    printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - start))" >>"$STEPS"
}

export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false
export XSTAGE_DATA_DIR=${XSTAGE_DATA_DIR:-/tmp/xstage_data}
export PYTORCH_CUDA_ALLOC_CONF=${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}

note "start $(date -u +%FT%TZ) smoke=$SMOKE budget=${BUDGET}s python=$PY out=$OUT"
shopt -s nullglob
wheels=("$WHEELS"/*.whl)
if ((${#wheels[@]})); then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "${wheels[@]}" 2>&1 | tee -a "$LOG"
    ((PIPESTATUS[0] != 0)) && { note "wheel install failed"; failed=1; }
    export PYTHONPATH=$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
    note "no wheels under $WHEELS: using $PY's own packages"
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
{ uname -srm; nproc --all; command -v nvidia-smi >/dev/null && nvidia-smi; } 2>&1 | tee -a "$LOG"

step env 60 "$PY" -c '
import importlib, sys, torch, transformers, pydantic
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda,
      "transformers", transformers.__version__, "pydantic", pydantic.VERSION, pydantic.__file__)
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(p.name, p.multi_processor_count, "SMs", round(p.total_memory / 2**30, 1), "GiB")
for name in ("xstage.config", "training.loop", "training.model", "scoring.forward"):
    importlib.import_module(name)
absent = [m for m in ("duckdb", "polars", "datasets", "vllm") if m in sys.modules]
assert not absent, f"imported modules the GPU image lacks: {absent}"
print("imports ok")
'

if [[ $SMOKE == 1 ]]; then
    step score_check 300 "$PY" benchmarks/gpu_score_check.py --smoke --out "$OUT/score_check.json"
    step train_eager 300 "$PY" benchmarks/train_bench.py --device cpu --scale tiny --steps 2 \
        --out "$OUT/train_eager.json"
    step train_compile 600 "$PY" benchmarks/train_bench.py --device cpu --scale tiny --compile \
        --steps 2 --out "$OUT/train_compile.json"
    step train_loss 300 "$PY" benchmarks/train_bench.py --device cpu --scale tiny --loss full \
        --loss chunked --steps 2 --profile "$OUT/profiles" --out "$OUT/train_loss.json"
    step score_diag 300 "$PY" benchmarks/gpu_score_check.py --smoke --items hellaswag --repeat 2 \
        --sdpa efficient --profile "$OUT/profiles" --out "$OUT/score_diag.json"
    step train_micro16 300 "$PY" benchmarks/train_bench.py --device cpu --scale tiny \
        --micro-batch 16 --steps 2 --out "$OUT/train_micro16.json"
    step train_compile2 600 "$PY" benchmarks/train_bench.py --device cpu --scale tiny --compile \
        --steps 2 --profile "$OUT/profiles" --out "$OUT/train_compile2.json"
    step train_levers.tiny 300 "$PY" benchmarks/gpu_train_levers.py --smoke \
        --out "$OUT/train_levers_tiny.json"
    for variant in scorer default naive efficient; do
        step "score_shapes.$variant" 120 "$PY" benchmarks/gpu_score_check.py --smoke \
            --items hellaswag --first-pass "$variant" --out "$OUT/score_shapes_$variant.json"
    done
else
    # (a) ~40 s: 2,048 items x 2 item shapes x 2 models, both paths; 8192^3 matmul ceiling
    step score_check 100 "$PY" benchmarks/gpu_score_check.py --out "$OUT/score_check.json"
    # (b) ~50 s: 3 warm-up + 20 timed steps; 240M 8 x 4096 (~0.3 s/step), 1B 4 x 4096 (~0.35 s)
    step train_eager 120 "$PY" benchmarks/train_bench.py --device cuda --scale 240M --scale 1B \
        --steps 20 --out "$OUT/train_eager.json"
    # (c) whatever the budget has left (~4-5 min): compile is the 1st warm-up step's cost
    step train_compile 330 "$PY" benchmarks/train_bench.py --device cuda --scale 240M --compile \
        --micro-batch 8 --steps 20 --out "$OUT/train_compile.json"
    # (d) ~40 s: 4 x (build + 3 warm-up + 10 steps + 2 profiled steps)
    step train_loss 90 "$PY" benchmarks/train_bench.py --device cuda --scale 240M --scale 1B \
        --loss full --loss chunked --steps 10 --profile "$OUT/profiles" \
        --out "$OUT/train_loss.json"
    # (f) ~40 s: 2 shapes x (packed x 2, naive, efficient, cuDNN, profiled packed)
    step score_diag 75 "$PY" benchmarks/gpu_score_check.py --shapes 1B 240M --items hellaswag \
        --n-items 1024 --repeat 2 --sdpa efficient cudnn --profile "$OUT/profiles" \
        --out "$OUT/score_diag.json"
    # (g) ~10 s
    step train_micro16 30 "$PY" benchmarks/train_bench.py --device cuda --scale 240M \
        --micro-batch 16 --steps 10 --out "$OUT/train_micro16.json"
    # (e) last, whatever is left (~85 s wanted): ~30 s of compile per scale, 10 steps, 2 profiled
    step train_compile2 120 "$PY" benchmarks/train_bench.py --device cuda --scale 240M \
        --scale 1B --compile --steps 10 --profile "$OUT/profiles" --out "$OUT/train_compile2.json"
    # (i) ~2-2.5 min per scale: 4 variants x (build + 15 steps); 3 regional compiles of one
    # layer each (~20-40 s, the later ones from the FX graph cache); 1B 4 x 4096, 240M 8 x 4096
    for scale in 240M 1B; do
        step "train_levers.$scale" 170 "$PY" benchmarks/gpu_train_levers.py --scale "$scale" \
            --steps 15 --out "$OUT/train_levers_${scale,,}.json"
    done
    # (h) ~15-30 s each: imports, 240M + 1B built, warm-up, first pass + repeat (+ naive check)
    for variant in scorer default naive efficient; do
        step "score_shapes.$variant" 45 "$PY" benchmarks/gpu_score_check.py --shapes 240M 1B \
            --items hellaswag --n-items 1024 --first-pass "$variant" \
            --out "$OUT/score_shapes_$variant.json"
    done
fi

note "done: failed=$failed"
column -t "$STEPS" 2>/dev/null | tee -a "$LOG" || cat "$STEPS"
exit "$failed"
