#!/usr/bin/env bash
# Runs the pipeline with two mda binaries (e.g. before and after a refactoring) on the same tiny
# data and compares their outputs byte for byte (text files after replacing the run folder's name,
# old/ or new/, which they record). Needs the shared data's Coral MobileNetV1 weights.
#   scripts/compare_outputs.sh OLD_MDA NEW_MDA SHARED_DATA
set -euo pipefail
old="$1" new="$2" data="$3"
w="$(mktemp -d /tmp/cmp.XXXX)"
cd "$w"
"$new" synthetic --quiet --root d --name synthetic --objects 12 --seed 5 --width 128 --height 96 > /dev/null
"$new" import-weights --quiet --weights "$data/weights/coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite" \
  --set model.backbone=mobilenet_v1 --set model.heads=4 --set model.dim=32 --out m.mdam
common=(--quiet --set evaluation.image_size=128 --set "evaluation.scales=[1.0, 0.707]" --set evaluation.features_num=60)
for v in old new; do
  b="${!v}"
  "$b" extract "${common[@]}" --model m.mdam --data-root d --dataset synthetic --split db --out $v/db
  "$b" extract "${common[@]}" --model m.mdam --data-root d --dataset synthetic --split queries --out $v/q
  "$b" train-codebook --quiet --features $v/db --out $v/c.npy --set train_codebook.codebook.size=64
  "$b" build-index --quiet --codebook $v/c.npy --features $v/db --out $v/db.ivf
  "$b" search --quiet --index $v/db.ivf --codebook $v/c.npy --features $v/q --out $v/s
  "$b" search "${common[@]}" --index $v/db.ivf --codebook $v/c.npy --model m.mdam --data-root d --dataset synthetic --out $v/s_img
  "$b" evaluate --quiet --data-root d --dataset synthetic --ranks $v/s/ranks.npy --json $v/metrics.json > $v/eval.txt
  "$b" run "${common[@]}" --set run.data_root=d --set run.dataset=synthetic --set run.model=m.mdam \
    --set run.codebook_dataset=synthetic --set train_codebook.codebook.size=64 --set run.out=$v/run > /dev/null
done
status=0
for f in db/extract.config.yaml run/features/codebook/extract.config.yaml run/features/codebook/vecs.npy run/index/db.ivf.stats.json run/search/search.config.yaml db/vecs.npy db/imids.npy db/strengths.npy db/heads.npy db/locs.npy db/scales.npy db/images.txt q/vecs.npy c.npy s/ranks.npy s/scores.npy s_img/ranks.npy s_img/scores.npy metrics.json eval.txt \
         run/features/db/vecs.npy run/codebook/centroids.npy run/search/ranks.npy run/search/scores.npy run/metrics.json; do
  if cmp -s <(sed 's#old/#RUN/#g' old/$f) <(sed 's#new/#RUN/#g' new/$f); then echo "same: $f"; else echo "DIFFERENT: $f"; status=1; fi
done
if diff <(cut -d' ' -f1-3 old/s/pairs.txt) <(cut -d' ' -f1-3 new/s/pairs.txt) > /dev/null; then echo "same: s/pairs.txt (first three columns)"; else echo "DIFFERENT: pairs"; status=1; fi
echo "work folder: $w"
exit $status
