# Shared by the grocery training experiments (sourced, not run): training a MobileNetV1 (Coral
# ImageNet weights) on grocery's manifest with six products held out for validation, and ASMK*
# evaluation on grocery and ukbench1k. Expects $data, $mda, $here and the size variables below.
EPOCHS="${EPOCHS:-5}" QSIZE="${QSIZE:-100}" POOLSIZE="${POOLSIZE:-700}" IMAGE_SIZE="${IMAGE_SIZE:-464}"
LR="${LR:-5e-6}" ATTENTION_LR="${ATTENTION_LR:-1e-4}" DEVICE="${DEVICE:-cpu}"
EVAL_SCALES="${EVAL_SCALES:-[1.0, 0.707, 0.5]}" EVAL_SIZE="${EVAL_SIZE:-512}" WORDS="${WORDS:-2048}"
SELECTION="${SELECTION:-joint}"
weights="$data/weights/coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"

make_split() {  # the validation split: six products out of grocery's training manifest
  [ -f data/grocery_val/train.tsv ] ||
    python3 "$here/make_validation_split.py" "$data/grocery/train.tsv" "$data/grocery/jpg" data grocery_val --queries 4
}

train_settings() {  # train_settings NAME SEED EPOCHS [overrides...]: the run's settings, in TRAIN_SETTINGS
  local name="$1" seed="$2" epochs="$3"
  shift 3
  TRAIN_SETTINGS=(--set model.backbone=mobilenet_v1 --set model.pretrained="$weights"
    --set training.manifest=data/grocery_val/train.tsv --set training.image_folder="$data/grocery/jpg"
    --set training.out="$name-s$seed" --set training.seed="$seed" --set training.epochs="$epochs"
    --set training.qsize="$QSIZE" --set training.poolsize="$POOLSIZE"
    --set training.image_size="$IMAGE_SIZE" --set training.reduction.images=700
    --set training.optimizer.lr="$LR" --set training.optimizer.attention_lr="$ATTENTION_LR"
    --set training.validation.data_root=data --set training.validation.dataset=grocery_val
    --set training.validation.image_size="$IMAGE_SIZE" --set training.validation.codebook_size=1024
    --set training.validation.selection="$SELECTION"
    --set training.validation.every=1 "$@")
}

train() {  # train NAME SEED EPOCHS [overrides...]: resumes an interrupted run, skips a finished one
  local name="$1" seed="$2"
  [ -f "$name-s$seed/done" ] && return
  train_settings "$@"
  "$mda" train --device "$DEVICE" --log "$name-s$seed.log" "${TRAIN_SETTINGS[@]}" \
    $([ -f "$name-s$seed/checkpoint.pt" ] && echo --resume)
  touch "$name-s$seed/done"
}

# evaluate MODEL_FILE FOLDER: ASMK* mAP on grocery and ukbench1k, the features selected by
# EVAL_SELECTION (SELECTION when unset), which FOLDER/selection.txt records.
evaluate() {
  local model="$1" dir="$2" selection="${EVAL_SELECTION:-$SELECTION}"
  local common=(--quiet --set "evaluation.scales=$EVAL_SCALES" --set evaluation.image_size="$EVAL_SIZE"
                --set evaluation.selection="$selection")
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
  echo "$selection" > "$dir/selection.txt"
}

# The controlled comparison's arms (docs/training.md): they differ only in the attention.
arm() {  # arm how|mda
  case "$1" in
    how) echo --set model.attention=l2 --set model.heads=1 ;;
    mda) echo --set model.attention=da --set model.heads="$HEADS" --set training.diversity_weight="$LAMBDA" ;;
  esac
}
shared() {  # shared SMOOTHING CHANNEL_MAPPING STOP_GRADIENT FREEZE_T [T_INIT: pca | keep (random)]
  echo --set model.smoothing="$1" --set model.channel_mapping="$2" --set model.stop_gradient="$3" \
    --set training.reduction.freeze="$4" --set training.reduction.init="${5:-pca}"
}
