#!/bin/bash
# The index at 100,000 and 1,000,000 images (issue 14, docs/scaling.md), every stage resumable:
#
#   scripts/million_index.sh MODEL [SHARED_DATA] [OUT]
#
# 1. ukbench1k's features from MODEL (IMAGE_SIZE px, scales 1 and 0.707, FEATURES per image);
# 2. a WORDS-word codebook trained on them (NITER k-means iterations);
# 3. for each N in SIZES: N distractors generated from the real index's statistics, quantized and
#    added through Index::add (`mda_bench_million build --through-api 1`, checkpointed every
#    50,000), then searched with every ukbench1k image at 1 and 2 threads.
# Each stage's output is kept (OUT/build-N.json, OUT/query-N-tT.json, ...) and skipped when the
# script runs again, so a run cut short (the million takes about 2 hours of 2 cores) goes on
# where it stopped. The figures are each stage's JSON; docs/scaling.md reads them.
#
# Environment: WORDS (65536), NITER (5), SIZES ("100000 1000000"), IMAGE_SIZE (512), FEATURES
# (300), SELECTION (the features' selection mode, evaluation.selection: unset takes the default,
# joint; the shipped MDA model's card names quota), THREADS (2), KEEP_INDEX (0: an index is deleted
# once it is searched), MDA and BENCH (the binaries; build/mda and build/bench/mda_bench_million).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
model="${1:?usage: million_index.sh MODEL [SHARED_DATA] [OUT]}"
data="$(cd "${2:-$here/../../shared/data}" && pwd)"
out="${3:-million_out}"
mda="${MDA:-$here/../build/mda}"
bench="${BENCH:-$here/../build/bench/mda_bench_million}"
words="${WORDS:-65536}"
threads="${THREADS:-2}"
for f in "$model" "$mda" "$bench" "$data/ukbench1k/gnd_ukbench1k.json"; do
  [ -e "$f" ] || { echo "million_index.sh: $f does not exist" >&2; exit 1; }
done
mkdir -p "$out"
run() { echo "+ $*" >&2; "$@"; }

if [ ! -f "$out/features/vecs.npy" ]; then
  run "$mda" extract --model "$model" --data-root "$data" --dataset ukbench1k --out "$out/features" \
    --set evaluation.image_size="${IMAGE_SIZE:-512}" --set "evaluation.scales=[1.0, 0.707]" \
    --set evaluation.features_num="${FEATURES:-300}" --set runtime.threads="$threads" \
    ${SELECTION:+--set evaluation.selection="$SELECTION"}
fi
codebook="$out/codebook-$words.npy"
if [ ! -f "$codebook" ]; then
  run "$mda" train-codebook --features "$out/features" --out "$codebook" \
    --set train_codebook.codebook.size="$words" --set train_codebook.codebook.niter="${NITER:-5}" \
    --set runtime.threads="$threads"
fi
for n in ${SIZES:-100000 1000000}; do
  index="$out/index-$n.mdai"
  if [ ! -f "$out/build-$n.json" ]; then
    # A build cut short leaves index-N.mdai.partial, which this command resumes from.
    run "$bench" build --codebook "$codebook" --database "$out/features" --distractors "$n" \
      --through-api 1 --out "$index" --threads "$threads" > "$out/build-$n.json.tmp"
    mv "$out/build-$n.json.tmp" "$out/build-$n.json"
    rm -f "$index.real"
  fi
  for t in 1 2; do
    if [ ! -f "$out/query-$n-t$t.json" ]; then
      [ -f "$index" ] || { echo "million_index.sh: $index is gone; remove $out/build-$n.json to build it again" >&2; exit 1; }
      run "$bench" query --index "$index" --queries "$out/features" \
        --gnd "$data/ukbench1k/gnd_ukbench1k.json" --threads "$t" > "$out/query-$n-t$t.json.tmp"
      mv "$out/query-$n-t$t.json.tmp" "$out/query-$n-t$t.json"
    fi
  done
  [ "${KEEP_INDEX:-0}" = 1 ] || rm -f "$index"
done
for f in "$out"/build-*.json "$out"/query-*.json; do echo "$f: $(cat "$f")"; done
