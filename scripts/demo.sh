#!/usr/bin/env bash
# The README's main command: installs, builds, and runs mmtrain on the embedded default.
# (Grows into the full three-stage recipe on the synthetic world as the issues land.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
BUILD_DIR=${MM_BUILD_DIR:-build}
"$BUILD_DIR/src/cli/mmtrain" info --config configs/models/debug.yaml
