#!/usr/bin/env bash
# Exact resume of the sharded modes after a real crash: for dist.shard optimizer, gradients and parameters,
# the tiny two-stage recipe on 2 Gloo ranks (`mmtrain launch`) runs uninterrupted (A), and again with every
# launched rank SIGKILLed once a random number of steps has been logged (B; possibly in the middle of writing a
# checkpoint and its optimizer shards), then continued with --resume auto. B's final weights and optimizer shards
# must equal A's bit for bit.
set -euo pipefail
MMTRAIN=$1
SRC=$2
TMP=$(mktemp -d /tmp/mm_kill_resume_zero.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

"$SRC/tests/cli/tiny_world.sh" "$MMTRAIN" "$SRC" "$TMP"

# exec: the background job's pid is the launcher itself, whose children are the ranks.
launch() { exec "$MMTRAIN" launch --nproc 2 -- train --config "$TMP/recipe.yaml" --no-eval "$@"; }
final() { echo "$1/sft/checkpoints/step_000012"; }
logged() { cat "$1"/*/metrics.jsonl 2>/dev/null | wc -l; }

status=0
for mode in optimizer gradients parameters; do
  a="$TMP/$mode-a" b="$TMP/$mode-b"
  (launch --set dist.shard=$mode --run-dir "$a") > "$a.log" 2>&1 || { cat "$a.log"; exit 1; }

  # B: SIGKILL every rank once 4..21 steps (of 24) are logged: after the first checkpoint (step 3), at any
  # point of a step, a checkpoint save or the stage hand-off.
  target=$(( RANDOM % 18 + 4 ))
  launch --set dist.shard=$mode --run-dir "$b" > "$b.1.log" 2>&1 &
  pid=$!
  while kill -0 $pid 2>/dev/null && [ "$(logged "$b")" -lt $target ]; do sleep 0.01; done
  ranks=$(pgrep -P $pid || true)
  [ -n "$ranks" ] || { echo "$mode: no running ranks to kill (finished before step $target?)"; cat "$b.1.log"; exit 1; }
  for r in $ranks; do kill -9 "$r" 2>/dev/null || true; done
  rc=0; wait $pid || rc=$?
  [ $rc -ne 0 ] || { echo "$mode: the launcher exited 0 after its ranks were killed"; status=1; }
  echo "$mode: SIGKILL of ranks $(echo $ranks) after $(logged "$b") logged steps (target $target); launcher exit $rc"
  (launch --set dist.shard=$mode --run-dir "$b" --resume auto) > "$b.2.log" 2>&1 || { cat "$b.2.log"; exit 1; }
  grep -q "resuming from\|already completed" "$b.2.log" || { echo "$mode: the second run did not resume"; cat "$b.2.log"; status=1; }

  for f in model.safetensors optimizer.rank0.safetensors optimizer.rank1.safetensors; do
    if ! cmp -s "$(final "$a")/$f" "$(final "$b")/$f"; then
      echo "$mode: $f differs from the uninterrupted run"; status=1
    fi
  done
done
[ $status -eq 0 ] && echo "bitwise identical after SIGKILL of the ranks and --resume auto (optimizer, gradients, parameters)"
exit $status
