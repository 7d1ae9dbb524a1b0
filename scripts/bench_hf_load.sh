#!/bin/bash
# Peak resident memory of `model.llm.from: hf:DIR` loading a Llama-3.2-1B-sized bf16 folder (random
# weights, written by scripts/golden/gen_hf_folders.py --big into a temporary folder, ~2.5 GB) into an
# fp32 decoder, against the decoder's bytes (docs/pretrained.md). Needs build/tests/models/test_hf_import.
# Usage: scripts/bench_hf_load.sh [BUILD_DIR] [FOLDER]   (FOLDER is written when it has no config.json)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
dir=${2:-${TMPDIR:-/tmp}/mm_hf_big}
if [ ! -f "$dir/config.json" ]; then
  /usr/bin/python3 "$root/scripts/golden/gen_hf_folders.py" --big "$dir"
fi
MM_HF_BIG_DIR="$dir" "$build/tests/models/test_hf_import" "[hf_import_memory]" --success | grep -E "hf load|passed|failed"
