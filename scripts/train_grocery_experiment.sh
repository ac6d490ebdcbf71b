#!/usr/bin/env bash
# The training experiment of docs/training.md: MobileNetV1 (ImageNet, Coral TFLite) trained on
# grocery's training manifest with six products held out for validation, then evaluated with
# ASMK* on grocery and ukbench1k. Models:
#   a_how_untrained  HOW (l2 attention, N = 1, smoothing, T = PCA-whitening), no training
#   b_how            the same, trained (T frozen, as HOW)
#   c_mda_nodiv      MDA (DA attention, N = 8), lambda = 0
#   c_mda            MDA, lambda = 1
#   scripts/train_grocery_experiment.sh [SHARED_DATA] [OUT] [SEEDS]
# Sizes are environment variables; the defaults are the CPU-sized run of the docs (2 cores,
# about 15 minutes per trained model). HOW's own sizes: QSIZE=2000 POOLSIZE=20000 EPOCHS=20.
set -euo pipefail
data="$(cd "${1:-../shared/data}" && pwd)"
out="${2:-train_experiment}"
seeds="${3:-0}"
mda="$(cd "$(dirname "${MDA:-build/mda}")" && pwd)/$(basename "${MDA:-build/mda}")"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/grocery_common.sh"
mkdir -p "$out"
cd "$out"
make_split

how_model=(--set model.attention=l2 --set model.heads=1 --set model.channel_mapping=false
     --set model.stop_gradient=false --set model.smoothing=true --set training.reduction.freeze=true)
mda_model=(--set model.attention=da --set model.heads=8)
MODELS="${MODELS:-a_how_untrained b_how c_mda_nodiv c_mda}"   # a subset runs only those
for seed in $seeds; do
  for name in $MODELS; do
    case "$name" in
      a_how_untrained) train a_how_untrained "$seed" 0 "${how_model[@]}" ;;
      b_how) train b_how "$seed" "$EPOCHS" "${how_model[@]}" ;;
      c_mda_nodiv) train c_mda_nodiv "$seed" "$EPOCHS" "${mda_model[@]}" --set training.diversity_weight=0 ;;
      c_mda) train c_mda "$seed" "$EPOCHS" "${mda_model[@]}" --set training.diversity_weight=1 ;;
      *) echo "unknown model $name" >&2; exit 2 ;;
    esac
    evaluate "$name-s$seed/best.mdam" "$name-s$seed/eval"
  done
done
python3 "$here/summarize_training_experiment.py" . > results.md
cat results.md
