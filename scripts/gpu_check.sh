#!/usr/bin/env bash
# What a CUDA machine is for, in one run: build against that machine's libtorch, run the network
# tests (the CUDA ones included), GPU quantization and k-means, extraction on CPU against CUDA, and
# a short training run on CUDA with bfloat16 autocast. Every step is time-limited and logged, and a
# failed step does not stop the others.
#   scripts/gpu_check.sh DEPS OUT
# DEPS holds stb/ (stb_image.h, stb_image_write.h), gtest/ (include/, lib/) where the machine has
# no googletest, and data/ (grocery/ in the Revisited layout, weights/coral/*.tflite).
set -uo pipefail
deps="$(cd "${1:-.devcarry}" && pwd)"
out="$(mkdir -p "${2:-gpu_out}" && cd "${2:-gpu_out}" && pwd)"
jobs="$(nproc)"
step() {  # step NAME SECONDS COMMAND...: log to OUT/NAME.log, print its tail, rc and time
  local name="$1" limit="$2" start=$SECONDS rc
  shift 2
  echo "== $name"
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  grep -v '\[#*\.*\]' "$out/$name.log" | tail -n "${TAIL:-12}"
  echo "== $name: exit $rc after $((SECONDS - start)) s"
  return $rc
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
echo "cpus: $jobs"

step configure 120 cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix" -DMDA_STB_INCLUDE_DIR="$deps/stb" \
  -DGTEST_ROOT="$deps/gtest" -DTORCH_CUDA_ARCH_LIST=9.0 || exit 1
TAIL=5 step build 360 ninja -C build-gpu -j "$jobs" mda mda_net_tests mda_bench_torch_quantize \
  mda_bench_local_forward ||
  exit 1
mda="$PWD/build-gpu/mda"

TAIL=30 step net_tests 120 build-gpu/tests/mda_net_tests --gtest_brief=1 \
  --gtest_filter='-Training.*:CoralMobileNet.*:TorchvisionReference.*'
step quantize_bench 150 build-gpu/bench/mda_bench_torch_quantize cuda 200000 2097152

step import 60 "$mda" import-weights --quiet \
  --weights "$deps/data/weights/coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite" \
  --set model.backbone=mobilenet_v1 --set model.attention=da --set model.heads=8 \
  --out "$out/mnv1_mda.mdam"
# Extraction with the paper's 7 scales at 1024 px, top 1000: 48 images on the CPU (all cores), the
# whole grocery database (864 images) on CUDA.
python3 -c "
import json, sys
g = json.load(open('$deps/data/grocery/gnd_grocery.json'))
open('$out/db48.txt', 'w').write(''.join('$deps/data/grocery/jpg/%s.jpg\n' % n for n in g['imlist'][:48]))"
step extract_cpu 120 "$mda" extract --model "$out/mnv1_mda.mdam" --images "$out/db48.txt" \
  --out "$out/feat_cpu" --device cpu
step extract_cuda 120 "$mda" extract --model "$out/mnv1_mda.mdam" --data-root "$deps/data" \
  --dataset grocery --out "$out/feat_cuda" --device cuda --set runtime.decode_threads=12
# The same with the backbone in bfloat16 (evaluation.precision: bf16): the two steps' times compare.
step extract_cuda_bf16 120 "$mda" extract --model "$out/mnv1_mda.mdam" --data-root "$deps/data" \
  --dataset grocery --out "$out/feat_cuda_bf16" --device cuda --set runtime.decode_threads=12 \
  --set evaluation.precision=bf16
# Images of one size 8 at a time (evaluation.batch_size): against extract_cuda's time.
step extract_cuda_batch8 120 "$mda" extract --model "$out/mnv1_mda.mdam" --data-root "$deps/data" \
  --dataset grocery --out "$out/feat_cuda_batch8" --device cuda --set runtime.decode_threads=12 \
  --set evaluation.batch_size=8
# Multi-scale extraction against PyTorch eager on the GPU, float and bf16 (needs torchvision).
TAIL=16 step local_forward_cuda 150 python3 bench/local_forward.py build-gpu --device cuda \
  --images 8 --repeats 2 --shared "$deps/data"
step codebook_cuda 60 "$mda" train-codebook --features "$out/feat_cuda" --out "$out/words.npy" \
  --set train_codebook.codebook.size=8192 --device cuda

# Training on CUDA with bfloat16 autocast: the CPU experiment's MDA recipe (docs/training.md).
python3 scripts/make_validation_split.py "$deps/data/grocery/train.tsv" "$deps/data/grocery/jpg" \
  "$out/data" grocery_val --queries 4 >/dev/null
TAIL=20 step train_cuda 170 "$mda" train --device cuda --set training.mixed_precision=true \
  --set model.backbone=mobilenet_v1 \
  --set model.pretrained="$deps/data/weights/coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite" \
  --set model.attention=da --set model.heads=8 --set training.diversity_weight=1 \
  --set training.manifest="$out/data/grocery_val/train.tsv" \
  --set training.image_folder="$deps/data/grocery/jpg" --set training.out="$out/train_mda" \
  --set training.epochs="${EPOCHS:-5}" --set training.qsize=100 --set training.poolsize=700 \
  --set training.image_size=464 --set training.reduction.images=700 \
  --set training.optimizer.lr=5e-6 --set training.optimizer.attention_lr=1e-4 \
  --set training.validation.data_root="$out/data" --set training.validation.dataset=grocery_val \
  --set training.validation.image_size=464 --set training.validation.codebook_size=1024 \
  --set training.validation.every=1 --set runtime.decode_threads=12
rm -rf "$out/feat_cpu/parts" "$out/feat_cuda/parts" "$out/feat_cuda_bf16/parts" \
  "$out/feat_cuda_batch8/parts" "$out/data"
exit 0
