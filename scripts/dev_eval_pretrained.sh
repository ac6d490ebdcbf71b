#!/usr/bin/env bash
# End-to-end retrieval on the development data with an untrained network: the ImageNet
# MobileNetV1 (Coral TFLite) at stride 16 with HOW's L2-norm attention (N = 1) and a random
# 512 -> 128 reduction T (no PCA-whitening: that belongs to training), binary ASMK*. Each
# dataset's codebook is trained on the other dataset's features (HOW: codebook features at scale 1
# only), so no codebook sees its test images.
#   scripts/dev_eval_pretrained.sh [SHARED_DATA] [OUT] [WORDS] [UKBENCH_SCALES]
# UKBENCH_SCALES defaults to HOW's 7 scales; a 2-core CPU needs about an hour for those on the
# 640x480 ukbench images, so the README's figures used "[1.0, 0.707, 0.5]".
set -euo pipefail
data="${1:-../shared/data}"
out="${2:-dev_eval}"
words="${3:-2048}"
uk_scales="${4:-[2.0, 1.414, 1.0, 0.707, 0.5, 0.353, 0.25]}"
mda="${MDA:-build/mda}"
mkdir -p "$out"
[ -f "$out/mnv1_l2.mdam" ] || "$mda" import-weights \
  --weights "$data/weights/coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite" \
  --set model.backbone=mobilenet_v1 --set model.attention=l2 --set model.heads=1 \
  --set model.channel_mapping=false --set model.stop_gradient=false --out "$out/mnv1_l2.mdam"
extract() { "$mda" extract --model "$out/mnv1_l2.mdam" --data-root "$data" "$@"; }
extract --dataset grocery --out "$out/grocery/db"
extract --dataset grocery --split queries --out "$out/grocery/q"
extract --dataset grocery --out "$out/grocery/codebook_features" --set "evaluation.scales=[1.0]"
extract --dataset ukbench1k --out "$out/ukbench1k/db" --set "evaluation.scales=$uk_scales"
extract --dataset ukbench1k --out "$out/ukbench1k/codebook_features" --set "evaluation.scales=[1.0]"
for dataset in grocery ukbench1k; do
  "$mda" train-codebook --features "$out/$dataset/codebook_features" --out "$out/$dataset/centroids.npy" \
    --set train_codebook.codebook.size="$words"
done
evaluate() {  # evaluate DATASET QUERIES CODEBOOK_FROM
  local dataset="$1" queries="$2" codebook="$out/$3/centroids.npy"
  "$mda" build-index --codebook "$codebook" --features "$out/$dataset/db" --out "$out/$dataset/db.ivf"
  "$mda" search --index "$out/$dataset/db.ivf" --codebook "$codebook" --features "$queries" --out "$out/$dataset/search"
  "$mda" evaluate --data-root "$data" --dataset "$dataset" --ranks "$out/$dataset/search/ranks.npy" --json "$out/$dataset/metrics.json"
}
evaluate grocery "$out/grocery/q" ukbench1k
# ukbench1k's queries are its database images, uncropped: the same features.
evaluate ukbench1k "$out/ukbench1k/db" grocery
