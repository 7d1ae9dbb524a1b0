#!/usr/bin/env bash
# The memory planner (`mmtrain info --plan`) against measured peak resident memory on this machine
# (docs/distributed.md, "Memory planner"). Prints Markdown tables:
#  1. `mmtrain bench` (one process, synthetic batches with one single-tile image per sequence, warm-up 1
#     + 1 timed step) of the debug and small presets at several micro-batches, recomputation off and
#     on: the planner's peak (cpu path) beside the VmHWM with glibc's default malloc and with a fixed
#     64 KiB mmap threshold (every tensor its own mapping, so freed memory leaves the resident set).
#  2. Two Gloo ranks (RANK/WORLD_SIZE set by hand, each under /usr/bin/time) training the debug recipe's
#     pretrain stage with the small preset's model for a few steps, dist.shard none vs optimizer: each
#     rank's peak resident memory, and the difference against the planner's.
# Usage: scripts/memory_plan_check.sh [--two-ranks] [MMTRAIN]   (default build/src/cli/mmtrain; --two-ranks:
# part 2 only; part 2 needs runs/world from `mmtrain data synth --out runs/world`, skipped without it).
# About 15 minutes on 2 cores. Copy MMTRAIN elsewhere first if a build may replace it meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
PART1=1
if [ "${1:-}" = "--two-ranks" ]; then
  PART1=0
  shift
fi
M=${1:-build/src/cli/mmtrain}
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", (a / b - 1) * 100 }'; }
# The first "peak" of the JSON plan is mode none without recomputation, the second with it.
plan_peak() {  # preset micro_batch recompute(0|1) [--set ...]
  local preset=$1 mb=$2 rc=$3
  shift 3
  "$M" info --config "configs/models/$preset.yaml" --plan --json --plan-device cpu --tiles 1 \
    --set loader.micro_batch="$mb" --set image.tile_size="$(tile_of "$preset")" "$@" |
    grep -o '"peak": [0-9]*' | sed -n "$((rc + 1))p" | grep -o '[0-9]*$'
}
tile_of() { grep -A2 'vision:' "configs/models/$1.yaml" | grep -o 'image_size: [0-9]*' | grep -o '[0-9]*$' || echo 64; }
bench_rss() {  # env preset micro_batch recompute(true|false)
  env $1 "$M" bench --config "configs/models/$2.yaml" --gemm 64 --steps 1 --warmup 1 --json \
    --set loader.micro_batch="$3" --set model.activation_checkpointing="$4" --set train.threads=2 2>/dev/null |
    grep -o '"peak_rss_bytes":[0-9]*' | grep -o '[0-9]*$'
}

if ((PART1)); then
echo "| preset | micro-batch x 512 | recompute | plan (MiB) | RSS, glibc default (MiB) | plan vs it | RSS, mmap threshold 64 KiB (MiB) | plan vs it |"
echo "|---|---:|---|---:|---:|---:|---:|---:|"
for run in "debug 1" "debug 4" "debug 8" "debug 16" "small 1" "small 2" "small 4"; do
  set -- $run
  for rc in 0 1; do
    flag=$([ $rc = 1 ] && echo true || echo false)
    plan=$(plan_peak "$1" "$2" $rc)
    def=$(bench_rss "MM_PLAN_CHECK=default" "$1" "$2" $flag)
    fixed=$(bench_rss "MALLOC_MMAP_THRESHOLD_=65536" "$1" "$2" $flag)
    echo "| $1 | $2 | $([ $rc = 1 ] && echo on || echo off) | $(mib "$plan") | $(mib "$def") | $(ratio "$plan" "$def") | $(mib "$fixed") | $(ratio "$plan" "$fixed") |"
  done
done
fi

[ -f runs/world/common.yaml ] || { echo "(runs/world missing: the two-rank part is skipped)"; exit 0; }
SMALL=(--set model.vision.image_size=112 --set model.vision.patch_size=14 --set model.vision.width=256
  --set model.vision.layers=6 --set model.vision.mlp_dim=1024 --set model.connector.hidden=256
  --set model.connector.depth=2 --set model.llm.vocab_size=4096 --set model.llm.dim=512 --set model.llm.layers=8
  --set model.llm.heads=8 --set model.llm.kv_heads=4 --set model.llm.ffn_hidden=1408 --set image.tile_size=112)
two_ranks() {  # shard -> "rss0 rss1" in KiB
  local dir port=$((29000 + RANDOM % 1000))
  dir=$(mktemp -d)
  for r in 0 1; do
    MALLOC_MMAP_THRESHOLD_=65536 RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 \
      MASTER_PORT=$port /usr/bin/time -f "%M" -o "$dir/rss$r" "$M" train --config configs/recipes/debug.yaml \
      --stage pretrain --run-dir "$dir/run" --set train.steps=3 --set schedule.warmup_steps=1 --set train.threads=1 --set dist.shard="$1" \
      --set train.checkpoint_interval=0 --set eval.sets=[] "${SMALL[@]}" >"$dir/log$r" 2>&1 &
  done
  wait
  echo "$(cat "$dir/rss0") $(cat "$dir/rss1")"
  rm -rf "$dir"
}
echo
echo "| dist.shard (2 Gloo ranks, small model, debug pretrain, 3 steps) | rank 0 RSS (MiB) | rank 1 RSS (MiB) |"
echo "|---|---:|---:|"
declare -A RSS
for shard in none optimizer gradients; do
  read -r a b < <(two_ranks $shard)
  RSS[$shard]=$(((a + b) / 2))
  echo "| $shard | $((a / 1024)) | $((b / 1024)) |"
done
planned=$("$M" info --config configs/recipes/debug.yaml --stage pretrain --plan --json --plan-device cpu --world 2 \
  "${SMALL[@]}" | grep -o '"optimizer": [0-9][0-9]*' | sed -n '1p;3p' | grep -o '[0-9]*$' | paste -sd' ')
read -r opt_full opt_half <<<"$planned"
echo
echo "measured: optimizer sharding lowers the mean rank peak by $(((RSS[none] - RSS[optimizer]) / 1024)) MiB;" \
  "planned: $(mib $((opt_full - opt_half))) MiB (optimizer state $(mib "$opt_full") -> $(mib "$opt_half") MiB per rank)"
# The plan's peaks (recomputation off): none is the first "peak", gradients the fifth (none, optimizer, gradients).
read -r peak_none peak_grad < <("$M" info --config configs/recipes/debug.yaml --stage pretrain --plan --json \
  --plan-device cpu --world 2 "${SMALL[@]}" | grep -o '"peak": [0-9]*' | sed -n '1p;5p' | grep -o '[0-9]*$' |
  paste -sd' ')
echo "measured: gradient sharding lowers the mean rank peak by $(((RSS[none] - RSS[gradients]) / 1024)) MiB;" \
  "planned: $(mib $((peak_none - peak_grad))) MiB (peak $(mib "$peak_none") -> $(mib "$peak_grad") MiB per rank)"
