#!/usr/bin/env bash
# Ablations on the built-in procedural data (docs/training.md, "Ablations on the built-in data"):
# the number of heads N, the diversity weight lambda and the feature-selection mode, on the plain
# data and on an occlusion-heavy variant where a match needs several object parts. Every run is
# the demo's small MDA (ResNet-18 up to layer2, random initialisation, C_T = 32, 128x96 images,
# 8 epochs of 40 tuples); the network after the last epoch is evaluated with ASMK* (128 words
# trained on the training images): validation mAP (12 objects) is too noisy here to pick epochs.
#
#   scripts/ablation_synthetic.sh [OUT]
#
# Sizes are environment variables; a finished run or evaluation is skipped, so the script resumes.
#   SEEDS="0 1 2 3 4" HEADS="1 2 4 8" LAMBDAS="0 1" VARIANTS="plain occluded"
#   MODES="joint head_max quota" EPOCHS=8 QSIZE=40 OCCLUSION=0.4 PYTHON=python3 (with numpy)
set -euo pipefail
out="${1:-ablation_synthetic}"
mda="$(cd "$(dirname "${MDA:-build/mda}")" && pwd)/$(basename "${MDA:-build/mda}")"
here="$(cd "$(dirname "$0")" && pwd)"
SEEDS="${SEEDS:-0 1 2 3 4}" HEADS="${HEADS:-1 2 4 8}" LAMBDAS="${LAMBDAS:-0 1}"
VARIANTS="${VARIANTS:-plain occluded}" MODES="${MODES:-joint head_max quota}"
EPOCHS="${EPOCHS:-8}" QSIZE="${QSIZE:-40}" OCCLUSION="${OCCLUSION:-0.4}"
mkdir -p "$out"
cd "$out"

extraction=(--quiet --set evaluation.image_size=128 --set "evaluation.scales=[1.0, 0.707]"
            --set evaluation.features_num=100)
for variant in $VARIANTS; do
  occlusion=0
  [ "$variant" = occluded ] && occlusion="$OCCLUSION"
  # Different seeds give different objects: training, validation and test share none.
  for split in "train 48 11" "val 12 12" "test 24 13"; do
    set -- $split
    [ -f "data_$variant/$1/train.tsv" ] ||
      "$mda" synthetic --quiet --root "data_$variant" --name "$1" --objects "$2" --seed "$3" \
        --width 128 --height 96 --occlusion "$occlusion"
  done
done

train() {  # train VARIANT N LAMBDA SEED -> run folder
  local variant="$1" heads="$2" lambda="$3" seed="$4"
  local run="runs/$variant-n$heads-l$lambda-s$seed"
  [ -f "$run/done" ] && return
  mkdir -p runs
  "$mda" train --quiet --log "$run.log" \
    --set model.backbone=resnet18 --set model.skip_layer=2 --set model.heads="$heads" \
    --set model.dim=32 --set model.attention=da \
    --set training.manifest="data_$variant/train/train.tsv" --set training.out="$run" \
    --set training.seed="$seed" --set training.epochs="$EPOCHS" --set training.qsize="$QSIZE" \
    --set training.poolsize=200 --set training.image_size=128 --set training.reduction.images=200 \
    --set training.optimizer.lr=3e-5 --set training.optimizer.attention_lr=1e-3 \
    --set training.diversity_weight="$lambda" \
    --set training.validation.data_root="data_$variant" --set training.validation.dataset=val \
    --set training.validation.image_size=128 --set "training.validation.scales=[1.0, 0.707]" \
    --set training.validation.features_num=100 --set training.validation.codebook_size=128 \
    --set training.validation.every="$EPOCHS" \
    $([ -f "$run/checkpoint.pt" ] && echo --resume)
  touch "$run/done"
}

evaluate() {  # evaluate RUN VARIANT MODE: ASMK* on val and test with one selection mode
  local run="$1" variant="$2" mode="$3" data="data_$2"
  local dir="$run/eval_$mode"
  [ -f "$dir/metrics_test.json" ] && return
  mkdir -p "$dir"
  local model="$run/last.mdam" select=(--set evaluation.selection="$mode")
  "$mda" extract --model "$model" --data-root "$data" --dataset train --out "$dir/train_db" \
    "${extraction[@]}" "${select[@]}" --set "evaluation.scales=[1.0]"
  "$mda" train-codebook --quiet --features "$dir/train_db" --out "$dir/words.npy" \
    --set train_codebook.codebook.size=128
  for dataset in val test; do
    "$mda" extract --model "$model" --data-root "$data" --dataset "$dataset" \
      --out "$dir/${dataset}_db" "${extraction[@]}" "${select[@]}"
    "$mda" extract --model "$model" --data-root "$data" --dataset "$dataset" --split queries \
      --out "$dir/${dataset}_q" "${extraction[@]}" "${select[@]}"
    "$mda" build-index --quiet --codebook "$dir/words.npy" --features "$dir/${dataset}_db" \
      --out "$dir/$dataset.ivf"
    "$mda" search --quiet --codebook "$dir/words.npy" --index "$dir/$dataset.ivf" \
      --features "$dir/${dataset}_q" --out "$dir/search_$dataset"
    "$mda" evaluate --quiet --data-root "$data" --dataset "$dataset" \
      --ranks "$dir/search_$dataset/ranks.npy" --json "$dir/metrics_$dataset.json"
  done
  rm -rf "$dir/train_db" "$dir/val_q" "$dir/test_q" "$dir"/*.ivf "$dir/words.npy"
}

for seed in $SEEDS; do
  for variant in $VARIANTS; do
    for heads in $HEADS; do
      for lambda in $LAMBDAS; do
        [ "$heads" = 1 ] && [ "$lambda" != 0 ] && continue  # L_reg = 0 with one head
        train "$variant" "$heads" "$lambda" "$seed"
        for mode in $MODES; do
          [ "$heads" = 1 ] && [ "$mode" != joint ] && continue  # one head: the modes agree
          evaluate "runs/$variant-n$heads-l$lambda-s$seed" "$variant" "$mode"
        done
      done
    done
  done
done
"${PYTHON:-python3}" "$here/summarize_ablation.py" . > results.md
cat results.md
