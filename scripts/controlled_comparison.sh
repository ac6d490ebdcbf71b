#!/usr/bin/env bash
# The controlled HOW-vs-MDA comparison of docs/training.md: the two arms differ only in the
# attention (l2 with N = 1 against DA with N heads); smoothing, channel mapping, stop-gradient,
# T's initialisation and whether T trains are shared settings, set the same in both arms.
#   scripts/controlled_comparison.sh [SHARED_DATA] [OUT] [STAGE]
# Stages, in this order (each resumable; a finished run or evaluation is skipped):
#   lr       the learning-rate trials of each arm on the validation split (the same LRS for both)
#   shared   per arm, at its chosen rate, the other setting of each shared choice (seed 0); the
#            project's settings are the lr trial at that rate. The runs the rule below still needs
#            go first; SHARED_RUNS=needed stops after them (the others cannot change the final
#            stage's settings), all (the default) runs the others after them
#   settings prints the shared settings the final stage will use (the rule below), trains nothing
#   final    SEEDS runs per arm with the chosen rate and shared settings, evaluated on grocery and
#            ukbench1k, summarised with paired differences; seed 0 is the lr trial (or the shared
#            run) of the same configuration where its model is still on disk. MDA's features are
#            selected by the mode (SELECTION_MODES) whose validation of MDA's seed 0 at the test's
#            size and scales is best, unless EVAL_SELECTION names one (HOW's one head: every mode
#            is the same)
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
# Each shared choice: the shared stage's run name, its variable, and the setting it tries.
SHARED_CHOICES="smoothing:SMOOTHING:true nomapping:CHANNEL_MAPPING:false nostopgrad:STOP_GRADIENT:false frozenT:FREEZE_T:true randomT:T_INIT:keep"
# The final stage's shared settings (fixed on 2026-12-02, when of the ten shared runs only HOW's
# smoothing had finished): a choice takes the setting its shared run tried only where that run
# validated above the lr trial at the same rate in both arms, by at least MIN_GAIN points on
# average over the two arms; otherwise the project's setting stays. One seed's best epoch moves by
# 1-2 points from one epoch to the next (docs/training.md), so a smaller gain is not evidence.
# SHARED_SETTINGS=given takes SMOOTHING, ... as set instead.
# A shared run that did not gain in one arm settles its choice (keep), so the other arm's run of
# it is not needed for the final stage.
SHARED_SETTINGS="${SHARED_SETTINGS:-validation}" MIN_GAIN="${MIN_GAIN:-1.0}" SHARED_RUNS="${SHARED_RUNS:-all}"
case "$SHARED_SETTINGS" in validation|given) ;; *)
  echo "controlled_comparison: SHARED_SETTINGS is validation or given, not '$SHARED_SETTINGS'" >&2; exit 2 ;;
esac
case "$SHARED_RUNS" in needed|all) ;; *)
  echo "controlled_comparison: SHARED_RUNS is needed or all, not '$SHARED_RUNS'" >&2; exit 2 ;;
esac
SELECTION_MODES="${SELECTION_MODES:-joint head_max quota}" EVAL_SELECTION="${EVAL_SELECTION:-}"
models="${MODELS:-$here/../models}"  # where each arm's best final seed goes (a trial run: elsewhere)
ledger="$(mkdir -p "${LEDGER:-$here/../results/controlled_comparison}" && cd "${LEDGER:-$here/../results/controlled_comparison}" && pwd)"
source "$here/grocery_common.sh"
project_settings() { shared "$SMOOTHING" "$CHANNEL_MAPPING" "$STOP_GRADIENT" "$FREEZE_T" "$T_INIT"; }
with_choice() {  # with_choice NAME: the project's shared settings with NAME's tried setting
  local SMOOTHING="$SMOOTHING" CHANNEL_MAPPING="$CHANNEL_MAPPING" STOP_GRADIENT="$STOP_GRADIENT"
  local FREEZE_T="$FREEZE_T" T_INIT="$T_INIT" entry name variable value
  for entry in $SHARED_CHOICES; do
    IFS=: read -r name variable value <<< "$entry"
    [ "$name" = "$1" ] && printf -v "$variable" '%s' "$value"
  done
  project_settings
}
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
declare -A chosen_rate=()
read_chosen_rates() { chosen_rate=([how]="$(chosen_lr how)" [mda]="$(chosen_lr mda)"); }
# What arm $1's shared run of choice $2 gained over its lr trial (best validation); nothing while
# that run is not done. read_chosen_rates first.
shared_gain() {  # shared_gain how|mda CHOICE
  local run="shared-$1-${chosen_rate[$1]}-$2-s0" base="lr-$1-${chosen_rate[$1]}-s0"
  [ -f "$base/done" ] || { echo "controlled_comparison: $base is not done: run the lr stage first" >&2; exit 1; }
  restore "$run"
  [ -f "$run/done" ] || return 0
  python3 -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" \
    "$(best_validation "$run")" "$(best_validation "$base")"
}
# Whether a shared run's gain $1 (empty while the run is not done) settles its choice: a setting
# is taken only where both arms gain, so one run without a gain keeps the project's setting.
settles() { [ -n "$1" ] && python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 0 else 1)" "$1"; }
# Whether the rule still needs arm $1's shared run of choice $2: no other arm's run of it has
# settled the choice.
shared_run_needed() {  # shared_run_needed how|mda CHOICE
  local other gain
  for other in how mda; do
    [ "$other" = "$1" ] && continue
    gain="$(shared_gain "$other" "$2")"  # an assignment, so that shared_gain's failure stops the script
    settles "$gain" && return 1
  done
  return 0
}
# Applies the rule above (SHARED_SETTINGS=validation): sets SMOOTHING, ... for the final stage and
# says why, choice by choice. Every shared run the rule needs must be done: otherwise it says which
# choices wait for which runs, after the decisions it could make, and fails.
choose_shared_settings() {
  local entry name variable value a args decision gain settled missing=()
  read_chosen_rates
  for entry in $SHARED_CHOICES; do
    IFS=: read -r name variable value <<< "$entry"
    args=() settled=no
    for a in how mda; do
      gain="$(shared_gain "$a" "$name")"
      settles "$gain" && settled=yes
      args+=("shared-$a-${chosen_rate[$a]}-$name-s0" "$gain")
    done
    decision="$(python3 -c "
import sys
runs, gains = sys.argv[2:6:2], [float(g) if g else None for g in sys.argv[3:6:2]]
said = ' and '.join('%+.2f (%s)' % (g, r) for g, r in zip(gains, runs) if g is not None) + ' over the lr trials'
known = [g for g in gains if g is not None]
if sys.argv[1] == 'yes':
    print('keep', said + ('' if len(known) == 2 else '; the other arm\\'s run is not needed'))
elif len(known) < 2:
    print('missing', ' '.join(r for g, r in zip(gains, runs) if g is None))
else:
    print('take' if sum(gains) / 2 >= float(sys.argv[6]) else 'keep', said)
" "$settled" "${args[@]}" "$MIN_GAIN")"
    case "${decision%% *}" in
      missing)
        echo "$variable: waits for ${decision#* }"
        missing+=(${decision#* }) ;;
      take)
        printf -v "$variable" '%s' "$value"
        echo "$variable=$value: ${decision#* }, above them in both arms by $MIN_GAIN or more on average" ;;
      *) echo "$variable=${!variable} (the project's): $value gave ${decision#* }" ;;
    esac
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "controlled_comparison: ${missing[*]} not done: run the shared stage first (or SHARED_SETTINGS=given)" >&2
    exit 1
  fi
}
# The final stage's shared settings: the rule's (SHARED_SETTINGS=validation) or the environment's.
settle_shared_settings() {
  [ "$SHARED_SETTINGS" = given ] || choose_shared_settings
  echo "shared settings: SMOOTHING=$SMOOTHING CHANNEL_MAPPING=$CHANNEL_MAPPING STOP_GRADIENT=$STOP_GRADIENT FREEZE_T=$FREEZE_T T_INIT=$T_INIT"
}
# Whether two effective configurations are the same but for their output folders.
same_configuration() {  # same_configuration CONFIG.yaml CONFIG.yaml
  cmp -s <(grep -v '^  out: ' "$1") <(grep -v '^  out: ' "$2")
}
# Whether two runs start from the same model (same configuration but for the rate and the folder).
same_start() {  # same_start CONFIG.yaml CONFIG.yaml
  cmp -s <(grep -v -e '^  out: ' -e '^    lr: ' "$1") <(grep -v -e '^  out: ' -e '^    lr: ' "$2")
}

case "$stage" in
  shared)
    # At each arm's chosen rate: the project's settings are its lr trial; each other setting once.
    # The runs the rule needs first (HOW's, then MDA's where HOW's run gained), then the others.
    read_chosen_rates
    for a in how mda; do
      [ -f "lr-$a-${chosen_rate[$a]}-s0/done" ] || { echo "controlled_comparison: run the lr stage first" >&2; exit 1; }
      echo "lr-$a-${chosen_rate[$a]}-s0 (project settings): best validation Medium mAP $(best_validation "lr-$a-${chosen_rate[$a]}-s0")"
    done
    shared_run() { LR="${chosen_rate[$1]}" trial "shared-$1-${chosen_rate[$1]}-$2" 0 "$EPOCHS" $(arm "$1") $(with_choice "$2"); }
    deferred=()
    for a in how mda; do
      for choice in $SHARED_CHOICES; do
        choice="${choice%%:*}"
        if shared_run_needed "$a" "$choice"; then shared_run "$a" "$choice"; else deferred+=("$a:$choice"); fi
      done
    done
    for t in "${deferred[@]}"; do
      if [ "$SHARED_RUNS" = all ]; then
        shared_run "${t%%:*}" "${t#*:}"
      else
        echo "shared-${t%%:*}-${chosen_rate[${t%%:*}]}-${t#*:}-s0: not run (SHARED_RUNS=needed; the other arm's run settled its choice)"
      fi
    done
    for a in how mda; do
      for run in shared-$a-${chosen_rate[$a]}-*-s0; do
        if [ -f "$run/done" ]; then echo "$run: best validation Medium mAP $(best_validation "$run")"; fi
      done
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
  settings)
    settle_shared_settings ;;
  final)
    settle_shared_settings
    for a in how mda; do
      lr="$(chosen_lr $a)"
      echo "arm $a: learning rate $lr"
      for seed in $SEEDS; do
        # A final run enters the ledger only once evaluated.
        restore "final-$a-s$seed"
        [ -f "final-$a-s$seed/eval/metrics_ukbench1k.json" ] && continue
        # Seed 0 is, run for run, the lr trial at the chosen rate (the project's settings) or the
        # shared run whose one setting was taken: where that run's model is still on disk it is
        # evaluated instead of trained again (an hour).
        if [ "$seed" = 0 ] && [ ! -f "final-$a-s0/done" ]; then
          LR="$lr" train_settings "final-$a" 0 "$EPOCHS" $(arm $a) $(project_settings)
          "$mda" config --quiet "${TRAIN_SETTINGS[@]}" --out "final-$a-s0.config.yaml" > /dev/null
          for trained in "lr-$a-$lr-s0" shared-$a-$lr-*-s0; do
            [ -f "$trained/done" ] && [ -f "$trained/best.mdam" ] || continue
            if same_configuration "$trained/train.config.yaml" "final-$a-s0.config.yaml"; then
              mkdir -p "final-$a-s0"
              cp "$trained"/{best.mdam,history.json,train.config.yaml,done} "final-$a-s0/"
              [ -f "$trained/mda-net.sha256" ] && cp "$trained/mda-net.sha256" "final-$a-s0/"
              echo "final-$a-s0: $trained (same configuration), evaluated"
              break
            fi
          done
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
      # Seed 0 starts from the initial model of the lr trials (or of the shared run with its
      # settings): their validation before training must agree.
      if [ -f "final-$a-s0/done" ]; then
        runs=()
        for run in lr-$a-*-s0 shared-$a-*-s0; do
          [ -f "$run/done" ] && same_start "$run/train.config.yaml" "final-$a-s0/train.config.yaml" && runs+=("$run")
        done
        [ ${#runs[@]} -gt 0 ] && check_same_pipeline "${runs[@]}" "final-$a-s0"
      fi
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
  *) echo "usage: controlled_comparison.sh [SHARED_DATA] [OUT] lr|shared|settings|final" >&2; exit 2 ;;
esac
