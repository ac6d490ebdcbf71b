#!/usr/bin/env bash
# The controlled HOW-vs-MDA comparison of docs/training.md: the two arms differ only in the
# attention (l2 with N = 1 against DA with N heads); smoothing, channel mapping, stop-gradient,
# T's initialisation and whether T trains are shared settings, set the same in both arms.
#   scripts/controlled_comparison.sh [SHARED_DATA] [OUT] [STAGE]
# Stages, in this order (each resumable; a finished run or evaluation is skipped):
#   lr       the learning-rate trials of each arm on the validation split (the same LRS for both)
#   shared   per arm, at its chosen rate, the other setting of each shared choice (seed 0); the
#            project's settings are the lr trial at that rate
#   final    SEEDS runs per arm with the chosen rate and the shared settings given (SMOOTHING, ...),
#            evaluated on grocery and ukbench1k, summarised with paired differences; seed 0 is the
#            lr trial itself where its model is still on disk. MDA's features are selected by the
#            mode (SELECTION_MODES) whose validation of MDA's seed 0 at the test's size and scales
#            is best, unless EVAL_SELECTION names one (HOW's one head: every mode is the same)
# CPU sizes (2 cores): MobileNetV1 from the Coral weights, 320-pixel training images, 10 epochs of
# 500 tuples (5,000 tuples per run); a run takes about an hour here.
# The whole comparison takes longer than one working session, and a machine's disk does not outlive
# its session, so every finished run leaves its small results (history.json, the evaluation's
# metrics, the done marker; no models) in LEDGER, a folder kept in the repository
# (results/controlled_comparison/README.md). A later session restores them and goes on with the
# runs that are missing.
set -euo pipefail
data="$(cd "${1:-../shared/data}" && pwd)"
out="${2:-controlled_comparison}"
stage="${3:-final}"
mda="$(cd "$(dirname "${MDA:-build/mda}")" && pwd)/$(basename "${MDA:-build/mda}")"
here="$(cd "$(dirname "$0")" && pwd)"
EPOCHS="${EPOCHS:-10}" QSIZE="${QSIZE:-500}" POOLSIZE="${POOLSIZE:-700}" IMAGE_SIZE="${IMAGE_SIZE:-320}"
# The rates from the top down: the best one has lain at the grid's top five times (HOW's 3.2e-4
# beat its 1.6e-4), so 6.4e-4 is tried for both arms. HOW's validation fell monotonically from
# 1.6e-4 down to 2e-6 (docs/training.md), so 2e-5, 1e-5 and 5e-6 would have cost both arms 4.5
# hours to confirm it. Six per arm.
HEADS="${HEADS:-8}" LAMBDA="${LAMBDA:-1}" SEEDS="${SEEDS:-0 1 2}" LRS="${LRS:-6.4e-4 3.2e-4 1.6e-4 8e-5 4e-5 2e-6}"
# The shared choices; the defaults are the project's (method.md section 0).
SMOOTHING="${SMOOTHING:-false}" CHANNEL_MAPPING="${CHANNEL_MAPPING:-true}"
STOP_GRADIENT="${STOP_GRADIENT:-true}" FREEZE_T="${FREEZE_T:-false}"
T_INIT="${T_INIT:-pca}"  # pca: PCA-whitening; keep: the network's random initialisation
SELECTION_MODES="${SELECTION_MODES:-joint head_max quota}" EVAL_SELECTION="${EVAL_SELECTION:-}"
models="${MODELS:-$here/../models}"  # where each arm's best final seed goes (a trial run: elsewhere)
ledger="$(mkdir -p "${LEDGER:-$here/../results/controlled_comparison}" && cd "${LEDGER:-$here/../results/controlled_comparison}" && pwd)"
source "$here/grocery_common.sh"
project_settings() { shared "$SMOOTHING" "$CHANNEL_MAPPING" "$STOP_GRADIENT" "$FREEZE_T" "$T_INIT"; }
mkdir -p "$out"
cd "$out"
make_split

restore() {  # restore RUN_FOLDER: the ledger's results of an earlier session's finished run
  [ -d "$ledger/$1" ] || return 0
  mkdir -p "$1"
  cp -rn "$ledger/$1/." "$1/"
}
record() {  # record RUN_FOLDER: a finished run's small results into the ledger
  mkdir -p "$ledger/$1"
  # The program that trained it (kept where the run was copied from another that recorded it).
  [ -f "$1/mda-net.sha256" ] || sha256sum "$(dirname "$mda")/mda-net" | cut -d' ' -f1 > "$1/mda-net.sha256"
  cp "$1/history.json" "$1/train.config.yaml" "$1/mda-net.sha256" "$1/done" "$ledger/$1/"
  if [ -d "$1/eval" ]; then
    mkdir -p "$ledger/$1/eval"
    cp "$1"/eval/metrics_*.json "$ledger/$1/eval/"
    [ -f "$1/eval/selection.txt" ] && cp "$1/eval/selection.txt" "$ledger/$1/eval/"
  fi
  return 0
}
trial() {  # trial NAME SEED EPOCHS [overrides...]: train unless the ledger or the folder has it
  restore "$1-s$2"
  local had_it=0
  [ -f "$1-s$2/done" ] && had_it=1
  train "$@"
  [ "$had_it" = 1 ] || record "$1-s$2"
}

best_validation() {  # best_validation RUN_FOLDER -> Medium mAP of the best epoch
  python3 -c "import json,sys; print(max(e['medium'] for e in json.load(open(sys.argv[1]))['validation']))" "$1/history.json"
}
untrained_validation() {  # untrained_validation RUN_FOLDER -> Medium mAP before the first epoch
  python3 -c "import json,sys; print('%.4f' % [e['medium'] for e in json.load(open(sys.argv[1]))['validation'] if e['epoch'] == 0][0])" "$1/history.json"
}
# Runs of one arm from the same initial model compare only if the same pipeline (decoders,
# quantization, validation) measured them: their untrained validation must then be equal. A
# mismatch means the binary changed between sessions in a way that moves the figures.
check_same_pipeline() {  # check_same_pipeline RUN_FOLDER...
  local first="" run value
  for run in "$@"; do
    value="$(untrained_validation "$run")"
    if [ -z "$first" ]; then
      first="$value"
    elif [ "$value" != "$first" ]; then
      echo "controlled_comparison: $run starts at validation mAP $value, $1 at $first: these runs" \
        "were made by different pipelines; remove the ledger folders of the older ones" \
        "($ledger) and run them again" >&2
      exit 1
    fi
  done
}

# The finished lr trials of arm $1, one per line (the ledger's restored first).
finished_lr_trials() {  # finished_lr_trials how|mda
  local run
  for run in "$ledger"/lr-$1-*-s0; do [ -d "$run" ] && restore "$(basename "$run")"; done
  for run in lr-$1-*-s0; do [ -f "$run/done" ] && echo "$run"; done
  return 0
}
# The run among RUN_FOLDER... whose best validation is highest (ties: the first given).
best_run() {  # best_run RUN_FOLDER...
  local run v best=-1 choice=""
  for run in "$@"; do
    v="$(best_validation "$run")"
    if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$v" "$best"; then
      best="$v"; choice="$run"
    fi
  done
  echo "$choice"
}
# The rate whose lr trial validated best for arm $1 (LR when the lr stage has not run).
chosen_lr() {  # chosen_lr how|mda
  local a="$1" lr="$LR" run
  local runs=()
  mapfile -t runs < <(finished_lr_trials "$a")
  if [ ${#runs[@]} -gt 0 ]; then
    check_same_pipeline "${runs[@]}"
    run="$(best_run "${runs[@]}")"
    lr="${run#lr-$a-}"; lr="${lr%-s0}"
  fi
  echo "$lr"
}
# MDA's selection trials: validation of its final seed 0 with each mode at the test's size and
# scales (where fewer features are kept than there are locations, so that the mode matters), a
# run of 0 epochs that keeps the weights; recorded in the ledger like every run.
selection_trials() {  # selection_trials LR
  local mode model="final-mda-s0/best.mdam"
  for mode in $SELECTION_MODES; do
    restore "selection-mda-$mode-s0"
    [ -f "selection-mda-$mode-s0/done" ] || [ -f "$model" ] ||
      { echo "controlled_comparison: $model is needed to choose MDA's selection mode" >&2; exit 1; }
    SELECTION="$mode" LR="$1" trial "selection-mda-$mode" 0 0 $(arm mda) \
      $(project_settings) \
      --set model.pretrained="$model" --set training.reduction.init=keep \
      --set training.validation.image_size="$EVAL_SIZE" --set "training.validation.scales=$EVAL_SCALES"
  done
}
# The mode whose selection trial validated best (ties: the first in SELECTION_MODES).
chosen_selection() {
  local mode run
  local runs=()
  for mode in $SELECTION_MODES; do runs+=("selection-mda-$mode-s0"); done
  run="$(best_run "${runs[@]}")"
  run="${run#selection-mda-}"
  echo "${run%-s0}"
}
# Whether two effective configurations are the same but for their output folders.
same_configuration() {  # same_configuration CONFIG.yaml CONFIG.yaml
  cmp -s <(grep -v '^  out: ' "$1") <(grep -v '^  out: ' "$2")
}

case "$stage" in
  shared)
    # At each arm's chosen rate: the project's settings are its lr trial; each other setting once.
    for a in how mda; do
      lr="$(chosen_lr $a)"
      [ -f "lr-$a-$lr-s0/done" ] || { echo "controlled_comparison: run the lr stage first" >&2; exit 1; }
      echo "lr-$a-$lr-s0 (project settings): best validation Medium mAP $(best_validation "lr-$a-$lr-s0")"
      LR="$lr" trial "shared-$a-$lr-smoothing" 0 "$EPOCHS" $(arm $a) $(shared true "$CHANNEL_MAPPING" "$STOP_GRADIENT" "$FREEZE_T" "$T_INIT")
      LR="$lr" trial "shared-$a-$lr-nomapping" 0 "$EPOCHS" $(arm $a) $(shared "$SMOOTHING" false "$STOP_GRADIENT" "$FREEZE_T" "$T_INIT")
      LR="$lr" trial "shared-$a-$lr-nostopgrad" 0 "$EPOCHS" $(arm $a) $(shared "$SMOOTHING" "$CHANNEL_MAPPING" false "$FREEZE_T" "$T_INIT")
      LR="$lr" trial "shared-$a-$lr-frozenT" 0 "$EPOCHS" $(arm $a) $(shared "$SMOOTHING" "$CHANNEL_MAPPING" "$STOP_GRADIENT" true "$T_INIT")
      LR="$lr" trial "shared-$a-$lr-randomT" 0 "$EPOCHS" $(arm $a) $(shared "$SMOOTHING" "$CHANNEL_MAPPING" "$STOP_GRADIENT" "$FREEZE_T" keep)
      for run in shared-$a-$lr-*-s0; do echo "$run: best validation Medium mAP $(best_validation "$run")"; done
    done ;;
  lr)
    # An interrupted trial first (its checkpoint does not outlive this machine), then the rest,
    # rate by rate with the arms alternating, so that a comparison cut short by the end of a
    # session has spent the same budget on both arms (within one trial).
    trials=()
    for lr in $LRS; do
      for a in how mda; do
        if [ -f "lr-$a-$lr-s0/checkpoint.pt" ]; then trials=("$a:$lr" "${trials[@]}"); else trials+=("$a:$lr"); fi
      done
    done
    for t in "${trials[@]}"; do
      a="${t%%:*}" lr="${t#*:}"
      LR="$lr" trial "lr-$a-$lr" 0 "$EPOCHS" $(arm $a) $(project_settings)
    done
    for run in lr-*-s0; do echo "$run: best validation Medium mAP $(best_validation "$run")"; done
    for a in how mda; do check_same_pipeline lr-$a-*-s0; done ;;
  final)
    for a in how mda; do
      lr="$(chosen_lr $a)"
      mapfile -t runs < <(finished_lr_trials "$a")
      echo "arm $a: learning rate $lr"
      for seed in $SEEDS; do
        # A final run enters the ledger only once evaluated.
        restore "final-$a-s$seed"
        [ -f "final-$a-s$seed/eval/metrics_ukbench1k.json" ] && continue
        # Seed 0 with the lr stage's settings is the lr trial at the chosen rate, run for run: where
        # that trial's model is still on disk it is evaluated instead of trained again (45 minutes).
        trained="lr-$a-$lr-s0"
        if [ "$seed" = 0 ] && [ ! -f "final-$a-s0/done" ] && [ -f "$trained/done" ] && [ -f "$trained/best.mdam" ]; then
          LR="$lr" train_settings "final-$a" 0 "$EPOCHS" $(arm $a) $(project_settings)
          "$mda" config --quiet "${TRAIN_SETTINGS[@]}" --out "final-$a-s0.config.yaml" > /dev/null
          if same_configuration "$trained/train.config.yaml" "final-$a-s0.config.yaml"; then
            mkdir -p "final-$a-s0"
            cp "$trained"/{best.mdam,history.json,train.config.yaml,done} "final-$a-s0/"
            [ -f "$trained/mda-net.sha256" ] && cp "$trained/mda-net.sha256" "final-$a-s0/"
            echo "final-$a-s0: the lr trial $trained (same configuration), evaluated"
          fi
          rm -f "final-$a-s0.config.yaml"
        fi
        LR="$lr" train "final-$a" "$seed" "$EPOCHS" $(arm $a) $(project_settings)
        selection="$EVAL_SELECTION"  # empty: evaluate's SELECTION
        if [ "$a" = mda ] && [ -z "$selection" ]; then
          selection_trials "$lr"
          selection="$(chosen_selection)"
        fi
        EVAL_SELECTION="$selection" evaluate "final-$a-s$seed/best.mdam" "final-$a-s$seed/eval"
        record "final-$a-s$seed"
        # models/ holds each arm's best seed so far, so that no session's best model is lost.
        python3 "$here/ship_models.py" . "$models" --arms "$a"
      done
      # Seed 0 starts from the lr trials' initial model.
      [ ${#runs[@]} -gt 0 ] && [ -f "final-$a-s0/done" ] && check_same_pipeline "${runs[@]}" "final-$a-s0"
    done
    if [ "$(cat final-*-s*/mda-net.sha256 2>/dev/null | sort -u | wc -l)" -gt 1 ]; then
      echo "controlled_comparison: the final runs were trained by different mda-net binaries" \
        "(mda-net.sha256 in the ledger); check that the training and evaluation code did not change" >&2
    fi
    python3 "$here/summarize_training_experiment.py" --paired final-how final-mda . > results.md
    for run in selection-mda-*-s0; do
      [ -f "$run/done" ] && echo "MDA selection trial $run: validation Medium mAP $(best_validation "$run")" >> results.md
    done
    for run in final-*-s*; do
      [ -f "$run/eval/selection.txt" ] && echo "$run: test features selected by $(cat "$run/eval/selection.txt")" >> results.md
    done
    cat results.md ;;
  *) echo "usage: controlled_comparison.sh [SHARED_DATA] [OUT] shared|lr|final" >&2; exit 2 ;;
esac
