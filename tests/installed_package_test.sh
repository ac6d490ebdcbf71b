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
# The Python package, where the build has it: importable from the prefix's site/dist-packages.
package=$(find "$work/prefix" -path "*-packages/mda/__init__.py" | head -1)
if [ -n "$package" ]; then
  PYTHONPATH="$(dirname "$(dirname "$package")")" /usr/bin/python3 -c "
import mda, numpy as np
c = mda.Codebook.from_centroids(np.eye(4, dtype=np.float32))
i = mda.Index(c); i.add(np.eye(4, dtype=np.float32), np.arange(4))
assert i.search(np.eye(4, dtype=np.float32)[:1], np.zeros(1, np.int64), topk=1, multiple_assignment=1)[0][0, 0] == 0
print('installed python package:', mda.__file__)"
elif find "$build" -name "_mda*.so" | grep -q .; then
  echo "the Python package was built but not installed"; exit 1
fi
cmake -S "$source/examples" -B "$work/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/example" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
cd "$work"
"$work/example/retrieval_example"
weights="$data/weights/coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
if [ -f "$weights" ] && "$mda" --help | grep import-weights > /dev/null; then  # not -q: SIGPIPE under pipefail
  # The installed mda, which hands the command to the mda-net installed beside it.
  "$work/prefix/bin/mda" import-weights --weights "$weights" --set model.backbone=mobilenet_v1 \
    --set model.heads=4 --set model.dim=32 --out "$work/model.mdam" --quiet
  all=("$data"/ukbench1k/jpg/*.jpg)
  images=("${all[@]:0:4}")
  "$work/example/retrieval_example" "$work/model.mdam" "${images[@]}"
else
  echo "model run SKIPPED: no Coral weights under $data or an mda without libtorch"
fi
