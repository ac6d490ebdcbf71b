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
EPOCHS="${EPOCHS:-5}" QSIZE="${QSIZE:-100}" POOLSIZE="${POOLSIZE:-700}" IMAGE_SIZE="${IMAGE_SIZE:-464}"
LR="${LR:-5e-6}" ATTENTION_LR="${ATTENTION_LR:-1e-4}" DEVICE="${DEVICE:-cpu}"
EVAL_SCALES="${EVAL_SCALES:-[1.0, 0.707, 0.5]}" EVAL_SIZE="${EVAL_SIZE:-512}" WORDS="${WORDS:-2048}"
weights="$data/weights/coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
mkdir -p "$out"
cd "$out"
[ -f data/grocery_val/train.tsv ] ||
  python3 "$here/make_validation_split.py" "$data/grocery/train.tsv" "$data/grocery/jpg" data grocery_val --queries 4

how_model=(--set model.attention=l2 --set model.heads=1 --set model.channel_mapping=false
     --set model.stop_gradient=false --set model.smoothing=true --set training.reduction.freeze=true)
mda_model=(--set model.attention=da --set model.heads=8)
train() {  # train NAME SEED EPOCHS [overrides...]
  local name="$1" seed="$2" epochs="$3"
  shift 3
  [ -f "$name-s$seed/done" ] && return
  "$mda" train --device "$DEVICE" --log "$name-s$seed.log" \
    --set model.backbone=mobilenet_v1 --set model.pretrained="$weights" \
    --set training.manifest=data/grocery_val/train.tsv --set training.image_folder="$data/grocery/jpg" \
    --set training.out="$name-s$seed" --set training.seed="$seed" --set training.epochs="$epochs" \
    --set training.qsize="$QSIZE" --set training.poolsize="$POOLSIZE" \
    --set training.image_size="$IMAGE_SIZE" --set training.reduction.images=700 \
    --set training.optimizer.lr="$LR" --set training.optimizer.attention_lr="$ATTENTION_LR" \
    --set training.validation.data_root=data --set training.validation.dataset=grocery_val \
    --set training.validation.image_size="$IMAGE_SIZE" --set training.validation.codebook_size=1024 \
    --set training.validation.every=1 "$@" $([ -f "$name-s$seed/checkpoint.pt" ] && echo --resume)
  touch "$name-s$seed/done"
}
evaluate() {  # evaluate MODEL_FILE FOLDER: ASMK* mAP on grocery and ukbench1k
  local model="$1" dir="$2"
  local common=(--quiet --set "evaluation.scales=$EVAL_SCALES" --set evaluation.image_size="$EVAL_SIZE")
  [ -f "$dir/metrics_ukbench1k.json" ] && return
  "$mda" extract --model "$model" --data-root "$data" --dataset grocery --out "$dir/grocery_db" "${common[@]}"
  "$mda" extract --model "$model" --data-root "$data" --dataset grocery --split queries --out "$dir/grocery_q" "${common[@]}"
  "$mda" extract --model "$model" --data-root "$data" --dataset ukbench1k --out "$dir/ukbench1k_db" "${common[@]}"
  # Each dataset's codebook comes from the other dataset's database features.
  "$mda" train-codebook --quiet --features "$dir/ukbench1k_db" --out "$dir/words_from_ukbench1k.npy" --set train_codebook.codebook.size="$WORDS"
  "$mda" train-codebook --quiet --features "$dir/grocery_db" --out "$dir/words_from_grocery.npy" --set train_codebook.codebook.size="$WORDS"
  for pair in "grocery grocery_q ukbench1k" "ukbench1k ukbench1k_db grocery"; do
    set -- $pair
    "$mda" build-index --quiet --codebook "$dir/words_from_$3.npy" --features "$dir/$1_db" --out "$dir/$1.ivf"
    "$mda" search --quiet --codebook "$dir/words_from_$3.npy" --index "$dir/$1.ivf" --features "$dir/$2" --out "$dir/search_$1"
    "$mda" evaluate --quiet --data-root "$data" --dataset "$1" --ranks "$dir/search_$1/ranks.npy" --json "$dir/metrics_$1.json"
  done
}

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
