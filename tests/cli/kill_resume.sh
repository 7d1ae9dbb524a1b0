#!/usr/bin/env bash
# Exact resume: a two-stage recipe on a tiny synthetic world is run uninterrupted (A), killed with
# SIGKILL at a random step and resumed with --resume auto (B), and stopped with SIGTERM and resumed
# (C). The final weights and optimizer state of B and C must be bitwise identical to A's. A run with
# --set overrides (D) is stopped and continued with the command it printed, pasted verbatim; another
# (F) is continued from its run directory alone (the recipe.yaml it holds).
set -euo pipefail
MMTRAIN=$1
SRC=$2
TMP=$(mktemp -d /tmp/mm_kill_resume.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

"$SRC/tests/cli/tiny_world.sh" "$MMTRAIN" "$SRC" "$TMP"

# exec: a background `train ... &` must be mmtrain itself, so that kill reaches it (not a subshell).
train() { exec "$MMTRAIN" train --config "$TMP/recipe.yaml" --no-eval "$@"; }
final() { echo "$1/sft/checkpoints/step_000012"; }
# Steps logged so far over both stages.
logged() { cat "$1"/*/metrics.jsonl 2>/dev/null | wc -l; }

(train --run-dir "$TMP/a") > "$TMP/a.log" 2>&1

# B: SIGKILL once a random number of steps (1..23) has been logged.
target=$(( RANDOM % 23 + 1 ))
train --run-dir "$TMP/b" > "$TMP/b1.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null && [ "$(logged "$TMP/b")" -lt $target ]; do sleep 0.01; done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
echo "SIGKILL after $(logged "$TMP/b") logged steps (target $target)"
(train --run-dir "$TMP/b" --resume auto) > "$TMP/b2.log" 2>&1 || { cat "$TMP/b2.log"; exit 1; }

# C: SIGTERM after a random number of steps: the step finishes, a checkpoint is saved, exit 0.
target=$(( RANDOM % 20 + 2 ))
train --run-dir "$TMP/c" > "$TMP/c1.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null && [ "$(logged "$TMP/c")" -lt $target ]; do sleep 0.01; done
kill -TERM $pid 2>/dev/null || true
rc=0; wait $pid || rc=$?
if [ $rc -ne 0 ]; then echo "SIGTERM: expected exit 0, got $rc"; cat "$TMP/c1.log"; exit 1; fi
grep -q "stopped in stage\|stage 'sft' done" "$TMP/c1.log" || { echo "SIGTERM: no stop message"; cat "$TMP/c1.log"; exit 1; }
echo "SIGTERM after $(logged "$TMP/c") logged steps (target $target)"
(train --run-dir "$TMP/c" --resume auto) > "$TMP/c2.log" 2>&1 || { cat "$TMP/c2.log"; exit 1; }

# D: a run with --set overrides stopped with SIGTERM, continued with the command it printed, run as
# printed; it must end bitwise where the same overrides end uninterrupted (E).
train --run-dir "$TMP/d" --set loader.micro_batch=2 --set 'train.log_interval=1' > "$TMP/d1.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null && [ "$(logged "$TMP/d")" -lt 5 ]; do sleep 0.01; done
kill -TERM $pid 2>/dev/null || true
wait $pid || { echo "D: SIGTERM: expected exit 0"; cat "$TMP/d1.log"; exit 1; }
printed=$(grep -o 'continue with: mmtrain .*' "$TMP/d1.log" | sed 's/^continue with: mmtrain //') || {
  echo "D: no 'continue with' line"; cat "$TMP/d1.log"; exit 1; }
echo "D: continue with: mmtrain $printed"
(eval "\"\$MMTRAIN\" $printed") > "$TMP/d2.log" 2>&1 || { echo "D: the printed command failed"; cat "$TMP/d2.log"; exit 1; }
(train --run-dir "$TMP/e" --set loader.micro_batch=2) > "$TMP/e.log" 2>&1

# F: the same overrides, stopped, and continued from the run directory alone: its recipe.yaml (the
# resolved recipe written at the start) stands in for --config and the --set overrides.
"$MMTRAIN" train --config "$TMP/recipe.yaml" --no-eval --run-dir "$TMP/f" --set loader.micro_batch=2 \
  > "$TMP/f1.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null && [ "$(logged "$TMP/f")" -lt 7 ]; do sleep 0.01; done
kill -TERM $pid 2>/dev/null || true
wait $pid || { echo "F: SIGTERM: expected exit 0"; cat "$TMP/f1.log"; exit 1; }
[ -f "$TMP/f/recipe.yaml" ] || { echo "F: no recipe.yaml in the run directory"; exit 1; }
("$MMTRAIN" train --run-dir "$TMP/f" --resume auto --no-eval) > "$TMP/f2.log" 2>&1 ||
  { echo "F: resume from the run directory alone failed"; cat "$TMP/f2.log"; exit 1; }

status=0
for run in d f; do
  if ! cmp -s "$(final "$TMP/$run")/model.safetensors" "$(final "$TMP/e")/model.safetensors"; then
    echo "run $run (resumed): model.safetensors differs from the uninterrupted run e"; status=1
  fi
done
for run in b c; do
  for f in model.safetensors optimizer.safetensors; do
    if ! cmp -s "$(final "$TMP/a")/$f" "$(final "$TMP/$run")/$f"; then
      echo "run $run: $f differs from the uninterrupted run"; status=1
    fi
  done
done
# The held-out source's loss is measured at the end of pretrain (data.heldout).
grep -q '"heldout_loss":{"heldout_text":' "$TMP/a/pretrain/metrics.jsonl" || { echo "no heldout_loss record"; status=1; }
# A fresh start over existing checkpoints is refused with one line.
if (train --run-dir "$TMP/a") > "$TMP/again.log" 2>&1; then echo "expected a refusal"; status=1; fi
grep -q "already holds checkpoints" "$TMP/again.log" || { cat "$TMP/again.log"; status=1; }
[ $status -eq 0 ] && echo "bitwise identical after SIGKILL and SIGTERM resumes"
exit $status
