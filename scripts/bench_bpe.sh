#!/usr/bin/env bash
# Byte-level BPE encoding speed, one thread, side by side in one run: mm::tok::BpeTokenizer against OpenAI's tiktoken
# (WASM build) and Hugging Face's JS tokenizers on cl100k_base and the same >= 1 MB mixed corpus; prints MB/s and the
# ratio (docs/tokenizer.md). Needs node and scripts/golden/bpe/node_modules (cd scripts/golden/bpe && npm ci).
#   scripts/bench_bpe.sh [BUILD_DIR (default build)] [bench_bpe flags, e.g. --node-seconds 5]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
shift || true
DIR="$BUILD_DIR/bench_bpe"
if [[ ! -x "$BUILD_DIR/microbench/bench_bpe" ]]; then
  echo "bench_bpe: $BUILD_DIR/microbench/bench_bpe is missing (ninja -C $BUILD_DIR bench_bpe)" >&2
  exit 1
fi
# The corpus and the converted tokenizer.json; this also checks that tiktoken and @huggingface/tokenizers agree.
node scripts/golden/bpe/cl100k_reference.mjs "$DIR"
# One thread: the encoder is single-threaded; keep BLAS/OpenMP pools (LibTorch's) from starting extra threads.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
exec "$BUILD_DIR/microbench/bench_bpe" --dir "$DIR" "$@"
