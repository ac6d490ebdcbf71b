#!/usr/bin/env bash
# The HOW-vs-MDA comparison at the paper's schedule, on a CUDA machine (an H100/H200 with PyTorch's
# libtorch), in about ten minutes: builds against that libtorch, runs the CUDA tests, trains the two
# arms of the controlled comparison (docs/training.md: they differ only in the attention) side by
# side on the one GPU from the Coral MobileNetV1 weights on grocery's manifest (six products held
# out for validation) with bfloat16 autocast, evaluates both with ASMK* on grocery and ukbench1k
# and prints the comparison.
#   scripts/gpu_comparison.sh DEPS OUT
# DEPS as for scripts/gpu_check.sh (stb/, gtest/, data/ with grocery/, ukbench1k/, weights/coral/).
# Sizes (environment): EPOCHS=20 QSIZE=2000 IMAGE_SIZE=1024 (the paper's schedule: 20 x 2,000
# tuples at 1,024 px), POOLSIZE=20000, SEEDS="0", ARM_SECONDS=420 (each arm's training is stopped
# there; the comparison then says how many epochs each arm finished, and a rerun resumes).
# MDA=path/to/mda skips the build and the CUDA tests and DEVICE=cpu trains on the CPU: a smoke run
# of the script itself with tiny sizes.
set -uo pipefail
deps="$(cd "${1:-.devcarry}" && pwd)"
out="$(mkdir -p "${2:-gpu_comparison}" && cd "${2:-gpu_comparison}" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
jobs="$(nproc)"
data="$deps/data"
export EPOCHS="${EPOCHS:-20}" QSIZE="${QSIZE:-2000}" IMAGE_SIZE="${IMAGE_SIZE:-1024}"
export POOLSIZE="${POOLSIZE:-20000}" DEVICE="${DEVICE:-cuda}" EVAL_SIZE="${EVAL_SIZE:-1024}"
export EVAL_SCALES="${EVAL_SCALES:-[2.0, 1.414, 1.0, 0.707, 0.5, 0.353, 0.25]}" WORDS="${WORDS:-8192}"
HEADS="${HEADS:-8}" LAMBDA="${LAMBDA:-1}" SEEDS="${SEEDS:-0}" ARM_SECONDS="${ARM_SECONDS:-420}"
SMOOTHING="${SMOOTHING:-false}" CHANNEL_MAPPING="${CHANNEL_MAPPING:-true}"
STOP_GRADIENT="${STOP_GRADIENT:-true}" FREEZE_T="${FREEZE_T:-false}" T_INIT="${T_INIT:-pca}"

if [ -n "${MDA:-}" ]; then
  mda="$(cd "$(dirname "$MDA")" && pwd)/$(basename "$MDA")"
else
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  cmake -S "$root" -B "$root/build-gpu" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch_prefix" -DMDA_STB_INCLUDE_DIR="$deps/stb" \
    -DGTEST_ROOT="$deps/gtest" -DTORCH_CUDA_ARCH_LIST=9.0 >"$out/configure.log" 2>&1 || {
    tail -20 "$out/configure.log"; exit 1; }
  ninja -C "$root/build-gpu" -j "$jobs" mda mda_net_tests >"$out/build.log" 2>&1 || {
    tail -20 "$out/build.log"; exit 1; }
  mda="$root/build-gpu/mda"
  echo "== CUDA tests"
  "$root/build-gpu/tests/mda_net_tests" --gtest_brief=1 --gtest_filter='*Cuda*' 2>&1 | tail -5
fi
cd "$out"
source "$here/grocery_common.sh"
make_split
for seed in $SEEDS; do
  # Both arms at once on the one GPU, each with half of the CPU cores for decoding.
  export -f train train_settings
  export mda weights LR ATTENTION_LR SELECTION data
  precision=true
  [ "$DEVICE" = cpu ] && precision=false
  for a in how mda; do
    timeout "$ARM_SECONDS" bash -c 'set -e; train "$@"' train "final-$a" "$seed" "$EPOCHS" \
      --set training.mixed_precision=$precision --set runtime.decode_threads=$((jobs / 2)) \
      $(arm $a) $(shared "$SMOOTHING" "$CHANNEL_MAPPING" "$STOP_GRADIENT" "$FREEZE_T" "$T_INIT") &
  done
  wait
  for a in how mda; do
    run="final-$a-s$seed"
    [ -f "$run/best.mdam" ] || { echo "$run: no model was saved in $ARM_SECONDS s"; continue; }
    evaluate "$run/best.mdam" "$run/eval"
  done
done
python3 - "$out" $SEEDS <<'PY'
import json, os, sys
out, seeds = sys.argv[1], sys.argv[2:]
print("| arm | seed | epochs done | best validation Medium mAP | grocery Medium mAP | ukbench1k Medium mAP |")
print("| --- | --- | --- | --- | --- | --- |")
for arm in ("how", "mda"):
    for seed in seeds:
        run = os.path.join(out, "final-%s-s%s" % (arm, seed))
        try:
            h = json.load(open(os.path.join(run, "history.json")))
        except OSError:
            print("| %s | %s | - | - | - | - |" % (arm, seed)); continue
        best = max((e["medium"] for e in h["validation"]), default=float("nan"))
        cells = []
        for d in ("grocery", "ukbench1k"):
            p = os.path.join(run, "eval", "metrics_%s.json" % d)
            cells.append("%.2f" % (100 * json.load(open(p))["protocols"]["medium"]["map"]) if os.path.exists(p) else "-")
        print("| %s | %s | %d | %.2f | %s | %s |" % (arm, seed, len(h["epochs"]), best, *cells))
PY
