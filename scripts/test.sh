#!/usr/bin/env bash
# The README's test command: installs the Debian packages (as root, skipped when present),
# configures, builds and runs the whole ctest suite. The exit code is the tests' result.
# Options: MM_BUILD_DIR (default build), MM_JOBS, MM_CTEST_ARGS (extra ctest arguments).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
BUILD_DIR=${MM_BUILD_DIR:-build}
cd "$BUILD_DIR"
# Before OMP_NUM_THREADS is set: GNU nproc honours it (with it at 1 the suite ran one test at a time).
JOBS=${MM_JOBS:-$(nproc)}
# OpenBLAS threads would fight ctest's parallel jobs on a small machine.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
ctest --output-on-failure -j "$JOBS" ${MM_CTEST_ARGS:-}
