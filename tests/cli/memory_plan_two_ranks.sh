#!/usr/bin/env bash
# The memory planner against measured peaks in every dist.shard mode: scripts/memory_plan_check.sh's two-rank
# part (2 Gloo ranks train the debug recipe's pretrain stage, debug and small models, modes none,
# optimizer, gradients and parameters, and none and gradients with grad_accum 2) on a small synthetic world of
# its own; fails when a plan is off rank 0's peak resident memory by more than 15 % (the issue's bound).
set -euo pipefail
MMTRAIN=$1
SRC=$2
TMP=$(mktemp -d /tmp/mm_plan_two_ranks.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# The recipe reads ../../runs/world from its own folder: a copy beside a world of its own.
mkdir -p "$TMP/configs/recipes" "$TMP/configs/models" "$TMP/runs"
cp "$SRC/configs/recipes/debug.yaml" "$TMP/configs/recipes/"
cp "$SRC/configs/models/debug.yaml" "$TMP/configs/models/"
"$SRC/tests/cli/tiny_world.sh" "$MMTRAIN" "$SRC" "$TMP/runs"  # the world in $TMP/runs/world

# Micro-batches of 4 and 2 steps (the second step holds all that a step holds: AdamW makes its state in the
# first): about 2.5 minutes on 2 cores instead of 6.
"$SRC/scripts/memory_plan_check.sh" --two-ranks --recipe "$TMP/configs/recipes/debug.yaml" \
  --set loader.micro_batch=4 --set train.steps=2 --tolerance 15 "$MMTRAIN"
