#!/usr/bin/env bash
# Configures and builds mmtrain into ${MM_BUILD_DIR:-build} (Release, Ninja). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${MM_BUILD_DIR:-build}
JOBS=${MM_JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
start=$(date +%s)
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "[build] done in $(( $(date +%s) - start ))s ($BUILD_DIR)"
