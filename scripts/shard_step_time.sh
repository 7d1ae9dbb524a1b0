#!/usr/bin/env bash
# What each dist.shard mode costs in time on this machine (docs/distributed.md "What each mode costs"): 2 Gloo
# ranks (`mmtrain launch --nproc 2`, train.threads 1 each) train the debug recipe's pretrain stage in every mode,
# ROUNDS rounds of the four modes in turn (so that the machine's drift falls on every mode alike). Each run's time
# is the mean step_time_s of rank 0's steps 2.. (the first step builds the optimizer state); a mode's row is the
# median over the rounds, with its ratio to `none`. The final losses must agree across modes (they print).
# Usage: scripts/shard_step_time.sh [--small] [--steps N] [--rounds R] [MMTRAIN]
#   --small   the small preset's model (31M parameters) instead of the debug preset's (2.9M)
#   MMTRAIN   default build/src/cli/mmtrain. Needs runs/world (`mmtrain data synth --out runs/world`).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=12 ROUNDS=3 SETS=() MODEL=debug
while [ $# -gt 0 ]; do
  case "$1" in
    --small) MODEL=small
      source scripts/small_model_sets.sh
      SETS=("${SMALL_MODEL_SETS[@]}") ;;
    --steps) STEPS=$2 && shift ;;
    --rounds) ROUNDS=$2 && shift ;;
    -*) echo "shard_step_time.sh: unknown option $1" >&2 && exit 2 ;;
    *) break ;;
  esac
  shift
done
M=${1:-build/src/cli/mmtrain}
[ -f runs/world/common.yaml ] || { echo "shard_step_time.sh: runs/world is missing (mmtrain data synth --out runs/world)" >&2; exit 1; }
MODES="none optimizer gradients parameters"
TMP=$(mktemp -d /tmp/mm_shard_time.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  for mode in $MODES; do
    run="$TMP/$mode-$round"
    "$M" launch --nproc 2 -- train --config configs/recipes/debug.yaml --stage pretrain --run-dir "$run" --no-eval \
      --set train.steps="$STEPS" --set schedule.warmup_steps=1 --set train.threads=1 --set dist.shard="$mode" \
      --set train.checkpoint_interval=0 --set train.log_interval=1 "${SETS[@]}" >"$run.log" 2>&1 ||
      { echo "dist.shard $mode failed:" >&2 && tail -5 "$run.log" >&2 && exit 1; }
    # metrics.jsonl: one line per step with "step" and "step_time_s"; the mean over steps >= 2, and the last loss.
    awk '/"step_time_s"/ {
           match($0, /"step":[0-9]+/); s = substr($0, RSTART + 7, RLENGTH - 7) + 0
           match($0, /"step_time_s":[0-9.e+-]+/); t = substr($0, RSTART + 14, RLENGTH - 14) + 0
           match($0, /"loss":[0-9.e+-]+/); loss = substr($0, RSTART + 7, RLENGTH - 7)
           if (s >= 2) { sum += t; n++ } }
         END { printf "%.4f %s\n", sum / n, loss }' "$run/pretrain/metrics.jsonl" >"$TMP/$mode.$round"
    echo "round $round, $mode: $(cat "$TMP/$mode.$round") (mean step s, final loss)" >&2
  done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base=$(cat "$TMP"/none.* | awk '{ print $1 }' | median)
echo "| dist.shard ($MODEL model, 2 Gloo ranks, debug pretrain, $STEPS steps, median of $ROUNDS rounds) | step (s) | vs none | final loss |"
echo "|---|---:|---:|---|"
for mode in $MODES; do
  m=$(cat "$TMP/$mode".* | awk '{ print $1 }' | median)
  echo "| $mode | $(awk -v m="$m" 'BEGIN { printf "%.3f", m }') | $(awk -v m="$m" -v b="$base" 'BEGIN { printf "%.2fx", m / b }') | $(awk '{ print $2 }' "$TMP/$mode.1") |"
done
