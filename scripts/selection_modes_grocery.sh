#!/usr/bin/env bash
# The feature-selection modes on real data (docs/training.md): a MobileNetV1 MDA (N = 8,
# lambda = 1) trained briefly on grocery's manifest with six products held out, then for each
# mode the validation mAP on those products (what a user may choose by) and the test mAP on
# grocery and ukbench1k, with the share of the kept features of the most used head.
#   scripts/selection_modes_grocery.sh [SHARED_DATA] [OUT] [SEED]
set -euo pipefail
data="$(cd "${1:-../shared/data}" && pwd)"
out="${2:-selection_modes}"
seed="${3:-0}"
mda="$(cd "$(dirname "${MDA:-build/mda}")" && pwd)/$(basename "${MDA:-build/mda}")"
here="$(cd "$(dirname "$0")" && pwd)"
EPOCHS="${EPOCHS:-3}" QSIZE="${QSIZE:-60}" IMAGE_SIZE="${IMAGE_SIZE:-320}"
MODES="${MODES:-joint head_max quota}"
source "$here/grocery_common.sh"
mkdir -p "$out"
cd "$out"
make_split

mda_model=(--set model.attention=da --set model.heads=8 --set training.diversity_weight=1)
train mda "$seed" "$EPOCHS" "${mda_model[@]}"
for mode in $MODES; do
  # Validation with this mode, at the test's image size and scales (where the n kept features are
  # fewer than the locations, so that the mode matters): a run of 0 epochs that keeps the weights.
  SELECTION="$mode" train "val-$mode" "$seed" 0 "${mda_model[@]}" \
    --set model.pretrained="mda-s$seed/best.mdam" --set training.reduction.init=keep \
    --set training.validation.image_size="$EVAL_SIZE" --set "training.validation.scales=$EVAL_SCALES"
  SELECTION="$mode" evaluate "mda-s$seed/best.mdam" "mda-s$seed/eval_$mode"
done

{
  echo "| selection | validation Medium mAP | grocery Medium mAP | ukbench1k Medium mAP | largest head's share (grocery database) |"
  echo "| --- | --- | --- | --- | --- |"
  for mode in $MODES; do
    "${PYTHON:-python3}" - "$mode" "val-$mode-s$seed/history.json" "mda-s$seed/eval_$mode" <<'PY'
import json, sys
import numpy as np
mode, history, folder = sys.argv[1:4]
val = json.load(open(history))["validation"][-1]["medium"]
maps = [100 * json.load(open(f"{folder}/metrics_{d}.json"))["protocols"]["medium"]["map"]
        for d in ("grocery", "ukbench1k")]
counts = np.bincount(np.load(f"{folder}/grocery_db/heads.npy").ravel(), minlength=8)
print(f"| {mode} | {val:.2f} | {maps[0]:.2f} | {maps[1]:.2f} | {100 * counts.max() / counts.sum():.1f}% "
      f"({' / '.join(str(c) for c in counts)}) |")
PY
  done
} > "results-s$seed.md"
cat "results-s$seed.md"
