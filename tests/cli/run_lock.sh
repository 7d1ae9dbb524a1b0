#!/usr/bin/env bash
# One trainer per run directory (RunLock, docs/reliability.md): a second `mmtrain train` on a run
# directory that another one is training into exits 1 at once with one line naming the directory
# and the holder, and the first finishes with its own results; a training killed with SIGKILL
# leaves a lock file behind that does not block the next training.
set -euo pipefail
MMTRAIN=$1
SRC=$2
TMP=$(mktemp -d /tmp/mm_run_lock.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() {
  echo "FAIL: $*"
  for f in "$TMP"/*.log "$TMP"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}

"$SRC/tests/cli/tiny_world.sh" "$MMTRAIN" "$SRC" "$TMP"

# exec: a background `train ... &` must be mmtrain itself, so that kill reaches it (not a subshell).
train() { exec "$MMTRAIN" train --config "$TMP/recipe.yaml" --no-eval "$@"; }
logged() { cat "$1"/*/metrics.jsonl 2>/dev/null | wc -l; }

# 1. A trains; once it has logged a step, B starts on the same run directory and is refused.
train --run-dir "$TMP/run" > "$TMP/a.log" 2>&1 &
a=$!
while kill -0 $a 2>/dev/null && [ "$(logged "$TMP/run")" -lt 1 ]; do sleep 0.01; done
kill -0 $a 2>/dev/null || fail "A ended before B could start"
rc=0
timeout 60 "$MMTRAIN" train --config "$TMP/recipe.yaml" --no-eval --run-dir "$TMP/run" --resume auto \
  > "$TMP/b.log" 2> "$TMP/b.err" || rc=$?
[ $rc -eq 1 ] || fail "B: expected exit 1, got $rc"
grep -q "run_dir '$TMP/run' is in use by another training (pid $a on host " "$TMP/b.err" ||
  fail "B: no one-line refusal naming the run directory and A's pid"
[ "$(grep -c "error" "$TMP/b.err")" -eq 1 ] || fail "B: more than one error line"
rc=0; wait $a || rc=$?
[ $rc -eq 0 ] || fail "A: expected exit 0 after B was refused, got $rc"
final="$TMP/run/sft/checkpoints/step_000012"
[ -f "$final/MANIFEST" ] || fail "A: no final checkpoint $final"
[ "$(cat "$TMP/run/sft/checkpoints/LATEST")" = "step_000012" ] || fail "A: LATEST does not name step_000012"
for stage in pretrain sft; do  # one writer: every step's training record logged once (held-out records share a step)
  dup=$(grep '"loss":' "$TMP/run/$stage/metrics.jsonl" | grep -o '"step":[0-9]*' | sort | uniq -d | head -1)
  [ -z "$dup" ] || fail "A: $stage/metrics.jsonl logs $dup twice"
done

# 2. K is SIGKILLed while it holds the lock; the next training on that run directory is not blocked.
train --run-dir "$TMP/k" > "$TMP/k1.log" 2>&1 &
k=$!
while kill -0 $k 2>/dev/null && [ "$(logged "$TMP/k")" -lt 2 ]; do sleep 0.01; done
kill -9 $k 2>/dev/null || true
wait $k 2>/dev/null || true
[ -f "$TMP/k/.lock" ] || fail "K: no lock file in the run directory"
rc=0
timeout 300 "$MMTRAIN" train --config "$TMP/recipe.yaml" --no-eval --run-dir "$TMP/k" --resume auto \
  > "$TMP/k2.log" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "after SIGKILL: expected the next training to run (exit 0), got $rc"
grep -q "in use by another training" "$TMP/k2.log" && fail "after SIGKILL: refused by a dead holder"
echo "a busy run directory is refused with one line; a SIGKILLed holder blocks nothing"
