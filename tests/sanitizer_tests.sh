#!/usr/bin/env bash
# The fast unit tests (mda_tests: util, readers, images, datasets, evaluation, ASMK*, index) and
# the replay of the kept fuzzing inputs, in a separate build under AddressSanitizer and
# UndefinedBehaviorSanitizer, without libtorch (the network tests are too slow there). Any report
# fails the test.
#   sanitizer_tests.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir="$1"
build="$2"
if [ -n "${MDA_SKIP_SANITIZER_TESTS:-}" ]; then
  echo "SKIPPED: MDA_SKIP_SANITIZER_TESTS is set"
  exit 77
fi
cmake -S "$source_dir" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMDA_SANITIZE=ON \
  -DMDA_WERROR=ON -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON -DMDA_BUILD_PYTHON=OFF \
  -DMDA_BUILD_BENCH=OFF > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" --target mda_tests mda_fuzz_replay > "$build.build.log" 2>&1 ||
  { tail -40 "$build.build.log"; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
"$build/tests/mda_tests" --gtest_brief=1
"$build/tests/mda_fuzz_replay" "$source_dir/fuzz"
echo "sanitizer_unit_tests: unit tests and fuzz replay clean under ASan + UBSan"
