#!/usr/bin/env bash
# End-to-end retrieval on the development data with an untrained network: the ImageNet
# MobileNetV1 (Coral TFLite) at stride 16 with HOW's L2-norm attention (N = 1) and a random
# 512 -> 128 reduction T (no PCA-whitening: that belongs to training), n = 1000 features over
# the 7 HOW scales, binary ASMK*. Each dataset's codebook is trained on the other dataset's
# database features, so no codebook sees its test images.
#   scripts/dev_eval_pretrained.sh [SHARED_DATA] [OUT] [WORDS]
set -euo pipefail
data="${1:-../shared/data}"
out="${2:-dev_eval}"
words="${3:-2048}"
mda="${MDA:-build/mda}"
mkdir -p "$out"
"$mda" import-weights --weights "$data/weights/coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite" \
  --set model.backbone=mobilenet_v1 --set model.attention=l2 --set model.heads=1 \
  --set model.channel_mapping=false --set model.stop_gradient=false --out "$out/mnv1_l2.mdam"
for dataset in grocery ukbench1k; do
  "$mda" extract --model "$out/mnv1_l2.mdam" --data-root "$data" --dataset "$dataset" --out "$out/$dataset/db"
done
# ukbench1k's queries are its database images, uncropped: the same features.
"$mda" extract --model "$out/mnv1_l2.mdam" --data-root "$data" --dataset grocery --split queries --out "$out/grocery/q"
"$mda" train-codebook --features "$out/grocery/db" --out "$out/grocery/centroids.npy" --set train_codebook.codebook.size="$words"
"$mda" train-codebook --features "$out/ukbench1k/db" --out "$out/ukbench1k/centroids.npy" --set train_codebook.codebook.size="$words"
evaluate() {  # evaluate DATASET QUERIES CODEBOOK_FROM
  local dataset="$1" queries="$2" codebook="$out/$3/centroids.npy"
  "$mda" build-index --codebook "$codebook" --features "$out/$dataset/db" --out "$out/$dataset/db.ivf"
  "$mda" search --index "$out/$dataset/db.ivf" --codebook "$codebook" --features "$queries" --out "$out/$dataset/search"
  "$mda" evaluate --data-root "$data" --dataset "$dataset" --ranks "$out/$dataset/search/ranks.npy" --json "$out/$dataset/metrics.json"
}
evaluate grocery "$out/grocery/q" ukbench1k
evaluate ukbench1k "$out/ukbench1k/db" grocery
