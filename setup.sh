#!/usr/bin/env bash
# One entry point for a fresh Debian bookworm machine: installs the missing packages with apt-get,
# configures and builds, then runs what was asked.
#
#   ./setup.sh demo [options]   build, then run `mda demo` (the main job) with those options
#   ./setup.sh test             build, then run the whole test suite through ctest
#   ./setup.sh build            only install and build
set -euo pipefail
cd "$(dirname "$0")"

action="${1:-build}"
[ $# -gt 0 ] && shift

packages=(g++ cmake ninja-build ccache pkg-config libstb-dev libturbojpeg0-dev libpng-dev libcpp-httplib-dev libopenmpi-dev openmpi-bin pybind11-dev python3-dev python3-pytest python3-pil curl libgtest-dev libopenblas0-pthread libopenblas-dev libdnnl-dev
          libtorch-dev python3 python3-numpy python3-torch python3-torchvision)
# The tests also open the HTML report in a headless browser.
[ "$action" = test ] && packages+=(chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build_dir="${MDA_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMDA_WERROR=ON
cmake --build "$build_dir" -j "$(nproc)"

case "$action" in
  demo) exec "$build_dir/mda" demo "$@" ;;
  test) cd "$build_dir" && exec ctest --output-on-failure -j "$(nproc)" "$@" ;;
  build) ;;
  *) echo "usage: ./setup.sh demo|test|build" >&2; exit 2 ;;
esac
