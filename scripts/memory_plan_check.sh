#!/usr/bin/env bash
# The memory planner (`mmtrain info --plan`) against measured peak resident memory on this machine
# (docs/distributed.md, "Memory planner"). Prints Markdown tables:
#  1. `mmtrain bench` (one process, synthetic batches with one single-tile image per sequence, warm-up 1
#     + 1 timed step) of the debug and small presets at several micro-batches, recomputation off and
#     on: the planner's peak (cpu path) beside the VmHWM with glibc's default malloc and with a fixed
#     64 KiB mmap threshold (every tensor its own mapping, so freed memory leaves the resident set).
#  2. Two Gloo ranks (RANK/WORLD_SIZE set by hand, each under /usr/bin/time, fixed mmap threshold) training
#     the debug recipe's pretrain stage for 3 steps, with the debug preset's model and with the small
#     preset's, in every dist.shard mode and in gradients with train.grad_accum 2: each rank's peak
#     resident memory beside the planner's peak for the same config (world 2, cpu path) at rank 0's
#     measured image tiles (metrics.jsonl's max_batch_tiles: packed sequences carry several images), and
#     what each mode saves against none on rank 0, measured and planned.
# Usage: scripts/memory_plan_check.sh [--two-ranks] [--presets "debug small"] [--recipe FILE] [--set KEY=VALUE]...
#        [--tolerance PCT] [MMTRAIN]
#   MMTRAIN      default build/src/cli/mmtrain (copy it elsewhere first if a build may replace it meanwhile)
#   --two-ranks  part 2 only
#   --presets    the models of part 2 (default both)
#   --recipe     the debug recipe of part 2 (default configs/recipes/debug.yaml, which reads runs/world: make it
#                with `mmtrain data synth --out runs/world`; part 2 is skipped without it)
#   --set        a recipe key for every run of part 2 and its plan (e.g. loader.micro_batch=4, train.steps=2)
#   --tolerance  exit 1 when a plan of part 2 is off rank 0's measured peak by more than PCT % (the ctest
#                cli_memory_plan_two_ranks runs part 2 so, on a world of its own: tests/cli/memory_plan_two_ranks.sh)
# About 15 minutes on 2 cores (part 2 alone: about 4).
set -euo pipefail
cd "$(dirname "$0")/.."
PART1=1 PRESETS="debug small" RECIPE=configs/recipes/debug.yaml TOLERANCE=""
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --two-ranks) PART1=0 ;;
    --presets) PRESETS=$2 && shift ;;
    --recipe) RECIPE=$2 && shift ;;
    --set) EXTRA+=(--set "$2") && shift ;;
    --tolerance) TOLERANCE=$2 && shift ;;
    -*) echo "memory_plan_check.sh: unknown option $1" >&2 && exit 2 ;;
    *) break ;;
  esac
  shift
done
M=${1:-build/src/cli/mmtrain}
FAILED=0
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

[ -f "$(dirname "$RECIPE")/../../runs/world/common.yaml" ] || { echo "(no runs/world beside $RECIPE: the two-rank part is skipped)"; exit 0; }
source scripts/small_model_sets.sh  # SMALL_MODEL_SETS: the small preset's model in the debug recipe
two_ranks() {  # shard accum [--set ...] -> "rss0 rss1 tiles": peak RSS in KiB, rank 0's most tiles in a micro-batch
  local dir shard=$1 accum=$2 port=$((29000 + RANDOM % 1000))
  shift 2
  dir=$(mktemp -d)
  local pids=()
  for r in 0 1; do
    MALLOC_MMAP_THRESHOLD_=65536 RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 \
      MASTER_PORT=$port /usr/bin/time -f "%M" -o "$dir/rss$r" "$M" train --config "$RECIPE" \
      --stage pretrain --run-dir "$dir/run" --set train.steps=3 --set schedule.warmup_steps=1 --set train.threads=1 \
      --set dist.shard="$shard" --set train.grad_accum="$accum" --set train.checkpoint_interval=0 \
      --set eval.sets=[] "$@" >"$dir/log$r" 2>&1 &
    pids+=($!)
  done
  for r in 0 1; do
    wait "${pids[$r]}" || { echo "rank $r of dist.shard $shard failed:" >&2 && tail -20 "$dir/log$r" >&2 && exit 1; }
  done
  echo "$(cat "$dir/rss0") $(cat "$dir/rss1") $(grep -o '"max_batch_tiles":[0-9]*' "$dir/run/pretrain/metrics.jsonl" |
    grep -o '[0-9]*$' | sort -n | tail -1)"
  rm -rf "$dir"
}
# The plan's peak (recomputation off) of a mode at world 2: modes none, optimizer, gradients, parameters,
# each with "plain" then "recompute".
declare -A MODE_INDEX=([none]=0 [optimizer]=1 [gradients]=2 [parameters]=3)
two_rank_plan() {  # shard accum batch_tiles [--set ...] -> bytes
  local shard=$1 accum=$2 tiles=$3
  shift 3
  "$M" info --config "$RECIPE" --stage pretrain --plan --json --plan-device cpu --world 2 \
    --batch-tiles "$tiles" --set train.grad_accum="$accum" "$@" | grep -o '"peak": [0-9]*' | sed -n "$((2 * MODE_INDEX[$shard] + 1))p" |
    grep -o '[0-9]*$'
}
echo
echo "2 Gloo ranks train the debug recipe's pretrain stage for 3 steps$([ ${#EXTRA[@]} -eq 0 ] ||
  printf '; every run and its plan with%s' "$(printf ' %s' "${EXTRA[@]}" | sed 's/ --set / /g')"):"
for preset in $PRESETS; do
  sets=()
  [ $preset = small ] && sets=("${SMALL_MODEL_SETS[@]}")
  sets+=("${EXTRA[@]}")
  echo
  echo "| $preset model, dist.shard | grad_accum | rank 0 RSS (MiB) | rank 1 RSS (MiB) | rank 0's most tiles in a micro-batch | plan at those tiles (MiB) | plan vs rank 0 | saved vs none, rank 0 (MiB) | saved, planned (MiB) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for row in "none 1" "optimizer 1" "gradients 1" "parameters 1" "none 2" "gradients 2"; do
    set -- $row
    read -r a b tiles < <(two_ranks "$1" "$2" "${sets[@]}")
    plan=$(two_rank_plan "$1" "$2" "$tiles" "${sets[@]}")
    if [ "$1" = none ]; then base_rss=$((a * 1024)) base_plan=$plan; fi
    echo "| $1 | $2 | $((a / 1024)) | $((b / 1024)) | $tiles | $(mib "$plan") | $(ratio "$plan" $((a * 1024))) |" \
      "$(mib $((base_rss - a * 1024))) | $(mib $((base_plan - plan))) |"
    if [ -n "$TOLERANCE" ] && ! awk -v p="$plan" -v m=$((a * 1024)) -v t="$TOLERANCE" \
      'BEGIN { d = (p / m - 1) * 100; exit !(d <= t && d >= -t) }'; then
      echo "FAILED: the $preset model's plan in dist.shard $1 (grad_accum $2) is off rank 0's peak by more than $TOLERANCE %"
      FAILED=1
    fi
  done
done
exit $FAILED
