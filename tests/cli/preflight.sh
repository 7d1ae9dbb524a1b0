#!/usr/bin/env bash
# Pre-flight (trainers/loop/preflight.h) from the command line, on the tiny world's two-stage
# recipe: a bad value in the LAST stage fails `train` within seconds with every problem listed and
# no run folder written; `train --dry-run` checks and stops; `info` lists files missing on this
# machine without failing, and fails on a bad setting.
set -uo pipefail
MMTRAIN=$1
SRC=$2
TMP=$(mktemp -d /tmp/mm_preflight.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$SRC/tests/cli/tiny_world.sh" "$MMTRAIN" "$SRC" "$TMP" || exit 1
status=0
fail() { echo "FAIL: $*"; status=1; }

start=$(date +%s)
timeout 60 "$MMTRAIN" train --config "$TMP/recipe.yaml" --run-dir "$TMP/bad" --no-eval \
  --set stages.sft.schedule.warmup_steps=100 --set "stages.sft.eval.sets=[$TMP/no_such_set.jsonl]" \
  > "$TMP/bad.out" 2> "$TMP/bad.err"
rc=$?
took=$(( $(date +%s) - start ))
[ $rc -eq 1 ] || fail "bad last stage: exit $rc, expected 1"
grep -q "2 problem(s) before step 1" "$TMP/bad.err" || fail "bad last stage: the count of problems"
grep -q "stage 'sft': schedule.warmup_steps 100 is longer than the schedule (12 steps" "$TMP/bad.err" ||
  fail "bad last stage: the warmup is not named"
grep -q "stage 'sft': eval.sets: $TMP/no_such_set.jsonl does not exist" "$TMP/bad.err" ||
  fail "bad last stage: the missing eval set is not named"
[ ! -e "$TMP/bad" ] || fail "a failed start left the run folder $TMP/bad behind"
[ $took -le 30 ] || fail "the pre-flight took $took s"
grep -q "step 1/" "$TMP/bad.out" "$TMP/bad.err" && fail "a step ran before the check failed"
[ $status -eq 0 ] || cat "$TMP/bad.err"

out=$("$MMTRAIN" train --config "$TMP/recipe.yaml" --run-dir "$TMP/dry" --dry-run 2>&1) || fail "--dry-run: $out"
printf '%s' "$out" | grep -q "2 stage(s) checked, no problem" || fail "--dry-run: $out"
[ ! -e "$TMP/dry" ] || fail "--dry-run wrote $TMP/dry"

# info: data on another machine is listed, not failed; a bad setting fails with the problem.
out=$("$MMTRAIN" info --config "$TMP/recipe.yaml" --set "stages.pretrain.data.sources[0].path=/elsewhere/x.jsonl" 2>&1) ||
  fail "info with data elsewhere: exit $?"
printf '%s' "$out" | grep -q "not on this machine: stage 'pretrain': data source" || fail "info: no 'not on this machine' line"
if "$MMTRAIN" info --config "$TMP/recipe.yaml" --set stages.sft.schedule.warmup_steps=100 > "$TMP/info.out" 2>&1; then
  fail "info with a warmup longer than the stage: exit 0"
fi
grep -q "problem: stage 'sft': schedule.warmup_steps 100" "$TMP/info.out" || fail "info: the problem is not printed"
[ $status -eq 0 ] && echo "pre-flight: every problem before step 1, nothing written; --dry-run; info"
exit $status
