#!/usr/bin/env bash
# The GPU check of issue 10, as one script for the GPU machine (docs/gpu.md says how to call it):
#   1. build llmtune against the machine's pip torch (CUDA), with the bundled dependencies;
#   2. a tiny model and a qwen2.5-0.5b-shaped model with `llmtune model init`;
#   3. transformers loads both; its f32 logits (TF32 off) match llmtune's within 1e-4;
#   4. 20 LoRA steps in llmtune and in a minimal PEFT loop, same data, same initial adapter,
#      same hyperparameters: losses within 1e-3 relative;
#   5. PEFT loads llmtune's adapter and transformers its merged export: same logits;
#   6. LoRA training tokens/s in bf16 at seq 1024 and 2048, llmtune and PEFT, with MFU against
#      the bf16 matmul rate measured in this run;
#   7. decode tokens/s, llmtune against transformers' generate;
#   8. OUT_DIR/summary.json with every step's status (passed, failed, measured or not_run) and
#      cause. A failed step does not stop the others that do not need its output.
#
# Usage: bench/gpu/check.sh OUT_DIR
#   LLMTUNE_GPU_BUDGET_S  seconds for the whole check (default 480); steps that would start
#                         after it are reported not_run
#   LLMTUNE_GPU_STEPS     only these steps (space-separated names, see STEPS below); the build
#                         and model steps are reused when their outputs exist (a warm machine)
#   LLMTUNE_GPU_WORK      scratch folder (default /tmp/llmtune-gpu)
#   LLMTUNE_GPU_BUILD     build folder (default build-gpu); with LLMTUNE_GPU_STEPS the script's
#                         orchestration can be tried on a CPU machine against its own build
set -u
[ $# -ge 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
OUT="$(mkdir -p "$1" && cd "$1" && pwd)"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
GPU="$ROOT/bench/gpu"
WORK="${LLMTUNE_GPU_WORK:-/tmp/llmtune-gpu}"
BUDGET="${LLMTUNE_GPU_BUDGET_S:-480}"
START=$(date +%s)
DEADLINE=$((START + BUDGET))
BUILD="${LLMTUNE_GPU_BUILD:-$ROOT/build-gpu}"
LOG="$OUT/check.log"
RES="$WORK/results"
mkdir -p "$WORK" "$RES" "$WORK/logs" "$WORK/bin"
rm -f "$RES"/*.json
: > "$LOG"
STEPS="env matmul deps configure build models logits_tiny logits_qwen05 lora_parity interop throughput_1024 throughput_2048 decode"
WANT="${LLMTUNE_GPU_STEPS:-$STEPS}"
export PYTHONUNBUFFERED=1

say() { echo "[check $(( $(date +%s) - START ))s] $*" | tee -a "$LOG" >&2; }

record() {  # record NAME STATUS CAUSE [LOGFILE]: a result for steps that write none themselves
  python3 - "$RES/$1.json" "$2" "$3" "${4:-}" <<'EOF'
import sys, os
sys.path.insert(0, os.environ["GPU_DIR"])
import gpu_common as gc
path, status, cause, log = sys.argv[1:5]
tail = None
if log and os.path.exists(log):
    with open(log, errors="replace") as f:
        tail = f.read()[-3000:]
gc.write_result(path, status, cause=cause or None, log_tail=tail)
EOF
}
export GPU_DIR="$GPU"

status_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$RES/$1.json" 2>/dev/null || echo missing; }
ok() { case "$(status_of "$1")" in passed|measured) return 0 ;; *) return 1 ;; esac; }
wanted() { case " $WANT " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# step NAME LIMIT_S NEEDS CMD...: runs CMD (its output to logs/NAME.log) under the smaller of
# LIMIT_S and the time left; NEEDS is a space-separated list of steps that must have passed.
step() {
  local name=$1 limit=$2 needs=$3; shift 3
  local log="$WORK/logs/$name.log" res="$RES/$name.json"
  wanted "$name" || return 0
  for n in $needs; do
    # A step left out of LLMTUNE_GPU_STEPS is taken as done earlier (its outputs are reused).
    if wanted "$n" && ! ok "$n"; then
      record "$name" not_run "needs step '$n', which did not pass ($(status_of "$n"))"
      say "$name: not run (needs $n)"; return 0
    fi
  done
  local left=$((DEADLINE - $(date +%s)))
  if [ "$left" -lt 20 ]; then
    record "$name" not_run "the check's ${BUDGET} s budget was spent before this step"
    say "$name: not run (budget spent)"; return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  say "$name: start (limit ${limit}s)"
  rm -f "$res"
  local t0; t0=$(date +%s)
  STEP_DEADLINE=$(( $(date +%s) + limit - 5 )) timeout -k 10 "$limit" "$@" > "$log" 2>&1
  local rc=$?
  local secs=$(( $(date +%s) - t0 ))
  tail -n 40 "$log" >> "$LOG"
  if [ ! -s "$res" ]; then
    if [ $rc -eq 0 ]; then record "$name" passed "" "$log"
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then record "$name" failed "timed out after ${limit} s" "$log"
    else record "$name" failed "exit code $rc" "$log"; fi
  fi
  python3 - "$res" "$secs" <<'EOF'
import json, sys
p, s = sys.argv[1], float(sys.argv[2])
d = json.load(open(p)); d["seconds"] = s
json.dump(d, open(p, "w"), indent=1)
EOF
  say "$name: $(status_of "$name") in ${secs}s"
}

HF="python3 $GPU/hf_check.py"
hf() {  # hf NAME SUBCOMMAND ARGS...: hf_check.py with the step's result file and deadline
  local name=$1; shift
  $HF --result "$RES/$name.json" --deadline "$STEP_DEADLINE" "$@"
}
export -f hf 2>/dev/null || true

# ---- 0. the machine ------------------------------------------------------------------------
machine_info() {
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "git: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
    echo "nvcc: $(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || echo none)"
    (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>&1 | tail -n 2
    echo "c++: $(c++ --version 2>&1 | head -n1)"
    echo "cmake: $(cmake --version 2>&1 | head -n1)"
    echo "ninja: $(ninja --version 2>&1)"
    echo "pkg-config: $(command -v pkg-config || echo none)"
    echo "dpkg-deb: $(command -v dpkg-deb || echo none)"
    echo "os: $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown}")"
    echo "cpus: $(nproc)"
  } > "$OUT/machine.txt" 2>&1
}
machine_info
step env 60 "" bash -c "$HF --result '$RES/env.json' env"
step matmul 60 "" bash -c "$HF --result '$RES/matmul.json' matmul"

# ---- 1. build --------------------------------------------------------------------------------
step deps 60 "" "$GPU/deps_prefix.sh" "$ROOT/.gpu-bundle" "$WORK/deps"

configure() {
  set -e
  source "$WORK/deps/env.sh"
  local torch_prefix nvcc
  torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  nvcc="$(command -v nvcc || true)"
  [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
  [ -n "$nvcc" ] || { echo "no nvcc on PATH or in /usr/local/cuda/bin" >&2; exit 3; }
  export CUDACXX="$nvcc" CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$(readlink -f "$nvcc")")")}"
  export TORCH_CUDA_ARCH_LIST="9.0"  # H200 (compute capability 9.0)
  local gen=(-G Ninja)
  command -v ninja >/dev/null || gen=(-G "Unix Makefiles")
  cmake -S "$ROOT" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$WORK/deps/usr;$torch_prefix" \
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCUDAToolkit_ROOT="$CUDA_HOME" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLLMTUNE_UI=OFF -DLLMTUNE_BUILD_TESTS=OFF "${LLMTUNE_DEPS_CMAKE_ARGS[@]}"
}
build() {
  set -e
  if [ -f "$BUILD/build.ninja" ]; then ninja -C "$BUILD" -j16 llmtune llmtune_gpu_probe
  else make -C "$BUILD" -j16 llmtune llmtune_gpu_probe; fi
}
export -f configure build
export ROOT BUILD WORK
step configure 120 "deps" bash -c configure
step build 330 "configure" bash -c build

# Wrappers: llmtune and the probe with the bundled libraries on their library path only.
for b in llmtune llmtune_gpu_probe; do
  cat > "$WORK/bin/$b" <<EOF
#!/usr/bin/env bash
. "$WORK/deps/env.sh"
LD_LIBRARY_PATH="\$LLMTUNE_DEPS_LIBDIR\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$BUILD/bin/$b" "\$@"
EOF
  chmod +x "$WORK/bin/$b"
done
LT="$WORK/bin/llmtune"
PROBE="$WORK/bin/llmtune_gpu_probe"

# ---- 2. models -----------------------------------------------------------------------------
TOK="$WORK/tokenizer"
TINY="$WORK/models/tiny"
QWEN05="$WORK/models/qwen2.5-0.5b"
models() {
  set -e
  mkdir -p "$TOK" "$WORK/models"
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
    "$ROOT/.gpu-bundle/tokenizer/qwen3/tokenizer.json.xz" "$TOK/tokenizer.json"
  cp "$ROOT/.gpu-bundle/tokenizer/qwen3/tokenizer_config.json" "$TOK/"
  rm -rf "$TINY" "$QWEN05"
  "$LT" model init --arch qwen3 --preset tiny --tokenizer "$TOK" --out "$TINY" --seed 1
  "$LT" model init --preset qwen2.5-0.5b --tokenizer "$TOK" --out "$QWEN05" --seed 2 --dtype f32
  ls -la "$TINY" "$QWEN05"
}
export -f models
export TOK TINY QWEN05 LT
step models 90 "build" bash -c models

# ---- 3-7. the checks and measurements ------------------------------------------------------
COMMON="--work $WORK --llmtune $LT --probe $PROBE --tokenizer $TOK"
export HF RES COMMON
step logits_tiny 60 "models" bash -c "hf logits_tiny logits --model '$TINY' $COMMON"
step logits_qwen05 90 "models" bash -c "hf logits_qwen05 logits --model '$QWEN05' $COMMON"
step lora_parity 120 "models" bash -c "hf lora_parity lora-parity --model '$TINY' $COMMON"
step interop 60 "models" bash -c "hf interop interop --model '$TINY' $COMMON"
step throughput_1024 120 "models" bash -c "hf throughput_1024 throughput --model '$QWEN05' $COMMON --seq 1024 --batch 8 --peak '$RES/matmul.json'"
step throughput_2048 120 "models" bash -c "hf throughput_2048 throughput --model '$QWEN05' $COMMON --seq 2048 --batch 4 --peak '$RES/matmul.json'"
step decode 90 "models" bash -c "hf decode decode --model '$QWEN05' $COMMON"

# ---- 8. summary ----------------------------------------------------------------------------
python3 "$GPU/summarize.py" --results "$RES" --steps "$STEPS" --machine "$OUT/machine.txt" \
  --budget "$BUDGET" --elapsed "$(( $(date +%s) - START ))" --out "$OUT/summary.json" | tee -a "$LOG"
# Logs of failed steps come back too (the tool returns at most 8 files: summary, check.log,
# machine.txt and one combined file of step logs).
for f in "$WORK"/logs/*.log; do echo "===== $(basename "$f")"; tail -c 20000 "$f"; done > "$OUT/step_logs.txt" 2>/dev/null
say "done: $OUT/summary.json"
