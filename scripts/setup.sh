#!/usr/bin/env bash
# Installs every Debian package sct needs (only those missing) and builds it in Release.
# Usage: scripts/setup.sh            -> build/ with tests and benchmarks
#        scripts/setup.sh sct        -> only the CLI, build/sct (what the demo needs; about half the build)
#        scripts/setup.sh --sanitize    -> build-asan/: everything under ASan + UBSan (+ LeakSanitizer)
#        scripts/setup.sh --packages-only
# Quiet on success; on failure prints the log of the failing step and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev            # LibTorch 1.13 (CPU)
  libopenblas0-openmp     # the BLAS LibTorch calls for GEMM
  libgloo-dev             # c10d's Gloo headers (data-parallel training)
  libopencv-dev           # image decoding
  libjpeg-dev libpng-dev  # JPEG and PNG decoding as PIL does it, their warnings kept off stderr
  libjemalloc-dev         # the allocator: freed tensors reused with less fragmentation than glibc's heap
  libcpp-httplib-dev      # sct serve's HTTP/1.1 server
  chromium                # the browser test of sct serve's page (headless)
  wrk                     # sct serve's load test (scripts/serve_load_test.sh)
  nlohmann-json3-dev libcli11-dev zlib1g-dev
  libgtest-dev libbenchmark-dev
  dataset-fashion-mnist   # the real dataset the demo and tests use
)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
step() {  # step <description> <command...>: run quietly, show the log if it fails
  local what=$1; shift
  if ! "$@" >"$log" 2>&1; then
    echo "setup: FAILED: $what" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
}

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "setup: installing ${missing[*]}"
  step "apt-get update" $SUDO apt-get update -qq
  step "apt-get install" env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "${1:-}" = "--packages-only" ] && exit 0

jobs=$(nproc)
if [ "${1:-}" = "--sanitize" ]; then
  # Everything under AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer), in build-asan/.
  step "cmake configure (sanitizers)" cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSCT_SANITIZE=ON -DSCT_BUILD_BENCH=OFF
  echo "setup: building build-asan/ with $jobs jobs (ASan + UBSan; longer than the release build)"
  step "build (sanitizers)" cmake --build build-asan -j "$jobs"
  echo "setup: ok, sanitized build in build-asan/ (tests: ctest --test-dir build-asan -j 2)"
  exit 0
fi

step "cmake configure" cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
echo "setup: building with $jobs jobs (first build takes a few minutes)"
targets=()
for t in "$@"; do targets+=(--target "$t"); done
step "build" cmake --build build -j "$jobs" "${targets[@]}"
echo "setup: ok, CLI at build/sct"
