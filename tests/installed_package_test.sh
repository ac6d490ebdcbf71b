#!/usr/bin/env bash
# cmake --install into a temporary prefix, then the example's own CMake project finds the package
# (find_package(mda)), builds and runs: on procedural descriptors, and, where the shared data is
# present, on real images with a model imported from the Coral MobileNetV1 weights.
#   installed_package_test.sh BUILD_DIR SOURCE_DIR MDA SHARED_DATA
set -euo pipefail
build="$1" source="$2" mda="$3" data="$4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
test -f "$work/prefix/include/mda/mda.h"
test -x "$work/prefix/bin/mda"
cmake -S "$source/examples" -B "$work/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/example" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
cd "$work"
"$work/example/retrieval_example"
weights="$data/weights/coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
if [ -f "$weights" ] && "$mda" --help | grep -q import-weights; then
  "$mda" import-weights --weights "$weights" --set model.backbone=mobilenet_v1 \
    --set model.heads=4 --set model.dim=32 --out "$work/model.mdam" --quiet
  all=("$data"/ukbench1k/jpg/*.jpg)
  images=("${all[@]:0:4}")
  "$work/example/retrieval_example" "$work/model.mdam" "${images[@]}"
else
  echo "model run SKIPPED: no Coral weights under $data or an mda without libtorch"
fi
