#!/usr/bin/env bash
# mmtrain ablate run end to end (issue 26, docs/ablations.md) on the tiny world: a sweep of three
# variants of the last stage (lo, hi, and bad, whose init_from does not exist: it fails at training
# time) after one shared stage, one seed, a few steps each.
#   1. Ctrl-C during the first run: the shared prefix is done, the run stopped with a checkpoint.
#   2. The rerun (--parallel 2) resumes it, trains hi, records bad as failed (exit 1, one line),
#      and the other runs complete: the prefix was trained once, each run's sft started from it.
#   3. A second rerun trains nothing (no new run_history record) and is fast.
#   4. ablate slurm writes a job-array script that bash accepts.
#   5. ablate verify trains one more variant from the same prefix.
set -euo pipefail
MMTRAIN=$1
SRC=$2
TMP=$(mktemp -d /tmp/mm_ablate_run.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() {
  echo "FAIL: $*"
  for f in "$TMP"/*.log "$TMP"/*.err; do [ -f "$f" ] && { echo "--- $f"; grep -v '^[0-9:]* [IW] \[' "$f" | tail -20; }; done
  [ -f "$TMP/out/sweep.json" ] && { echo "--- sweep.json"; cat "$TMP/out/sweep.json"; }
  exit 1
}
"$SRC/tests/cli/tiny_world.sh" "$MMTRAIN" "$SRC" "$TMP"
cat > "$TMP/sweep.yaml" <<YAML
recipe: recipe.yaml
name: tiny-sweep
out_dir: $TMP/out
set: {stages.pretrain.train.steps: 6, stages.sft.train.steps: 9}
baseline: lo
variants:
  - {name: lo, set: {stages.sft.optimizer.lr: 0.001}}
  - {name: hi, set: {stages.sft.optimizer.lr: 0.002}}
  - {name: bad, set: {stages.sft.train.init_from: $TMP/no_such_checkpoint}}
YAML
OUT=$TMP/out
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
starts() { grep -c '"event":"start"' "$1/run_history.jsonl" 2>/dev/null || true; }
field() {  # field PY_EXPR: evaluated on sweep.json as j
  python3 -c "import json,sys; j=json.load(open('$OUT/sweep.json')); print($1)"
}
prefix=$(ls "$OUT/prefixes" 2>/dev/null || true)

# 1. Interrupted during lo's sft (after its first logged step).
"$MMTRAIN" ablate run "$TMP/sweep.yaml" > "$TMP/run1.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null && [ "$(lines "$OUT/runs/lo-seed0/sft/metrics.jsonl")" -lt 1 ]; do sleep 0.01; done
kill -INT $pid 2>/dev/null || fail "run 1 ended before it could be interrupted"
rc=0; wait $pid || rc=$?
[ $rc -eq 0 ] || fail "run 1: expected exit 0 after Ctrl-C, got $rc"
grep -q "sweep tiny-sweep stopped; continue with: mmtrain ablate run" "$TMP/run1.log" || fail "run 1: no 'stopped' line"
[ "$(ls "$OUT/prefixes" | wc -l)" -eq 1 ] || fail "expected one prefix folder, got: $(ls "$OUT/prefixes")"
prefix="$OUT/prefixes/$(ls "$OUT/prefixes")"
[ "$(field "j['prefixes'][0]['status']")" = done ] || fail "run 1: the prefix is not done"
[ "$(field "j['runs'][0]['status']")" = pending ] || fail "run 1: the interrupted run is not pending"
[ "$(field "j['runs'][1]['status']")" = pending ] || fail "run 1: hi started after the stop"
ls "$OUT/runs/lo-seed0/sft/checkpoints" | grep -q step_ || fail "run 1: the interrupted run saved no checkpoint"
grep -q "^\[sweep\] runs 0/3 done | now: lo seed 0, stage sft | ETA " "$TMP/run1.log" || fail "run 1: no sweep progress line"

# 2. The rerun, two runs at once: lo resumes, hi trains, bad fails (one line), the sweep goes on.
rc=0
"$MMTRAIN" ablate run "$TMP/sweep.yaml" --parallel 2 > "$TMP/run2.log" 2> "$TMP/run2.err" || rc=$?
[ $rc -eq 1 ] || fail "run 2: expected exit 1 (a failed run), got $rc"
[ "$(grep -c '^mmtrain: error: failed: ' "$TMP/run2.err")" -eq 1 ] || fail "run 2: not one failed line"
grep -q "^mmtrain: error: failed: bad seed 0: .*no_such_checkpoint" "$TMP/run2.err" || fail "run 2: bad not named"
for r in 0 1; do
  [ "$(field "j['runs'][$r]['status']")" = done ] || fail "run 2: run $r is not done"
  ev=$(field "j['runs'][$r]['eval']")
  [ -f "$ev" ] || fail "run 2: run $r has no eval file ($ev)"
  case "$ev" in */sft/eval/step_000009.json) ;; *) fail "run 2: run $r: eval $ev is not the last step's" ;; esac
done
[ "$(field "j['runs'][2]['status']")" = failed ] || fail "run 2: bad is not failed"
field "j['runs'][2]['error']" | grep -q no_such_checkpoint || fail "run 2: bad's error does not name the checkpoint"
[ "$(field "j['runs'][0]['axes']['stages.sft.optimizer.lr']")" = 0.001 ] || fail "run 2: lo's axes"
field "j['train_s'] > 0 and j['overhead_s'] >= 0" | grep -q True || fail "run 2: train_s/overhead_s"
# The prefix trained once; each run trained sft only, from the prefix's final checkpoint.
[ "$(starts "$prefix")" -eq 1 ] || fail "the prefix started $(starts "$prefix") times"
final=$(ls -d "$prefix"/pretrain/checkpoints/step_* | tail -1)
for r in lo hi; do
  [ ! -e "$OUT/runs/$r-seed0/pretrain" ] || fail "$r trained pretrain itself"
  grep -q "^  init_from: $final\$" "$OUT/runs/$r-seed0/sft/config.yaml" || fail "$r's sft did not start from $final"
done
[ "$(starts "$OUT/runs/lo-seed0")" -eq 2 ] || fail "lo: expected two starts (interrupted, resumed)"
grep '"event":"start"' "$OUT/runs/lo-seed0/run_history.jsonl" | tail -1 | grep -q '"resume":"auto"' ||
  fail "lo: the second start is not a resume"
[ "$(starts "$OUT/runs/hi-seed0")" -eq 1 ] || fail "hi: expected one start"

# 3. A rerun trains nothing (bad is retried and fails at its pre-flight, before training).
before=$(cat "$prefix/run_history.jsonl" "$OUT"/runs/{lo,hi}-seed0/run_history.jsonl | md5sum)
start=$(date +%s%N)
rc=0
"$MMTRAIN" ablate run "$TMP/sweep.yaml" > "$TMP/run3.log" 2> "$TMP/run3.err" || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 1 ] || fail "run 3: expected exit 1 (bad still fails), got $rc"
after=$(cat "$prefix/run_history.jsonl" "$OUT"/runs/{lo,hi}-seed0/run_history.jsonl | md5sum)
[ "$before" = "$after" ] || fail "run 3 trained something"
[ "$ms" -lt 20000 ] || fail "run 3 took $ms ms"
grep -q "^sweep tiny-sweep: 2 of 3 run(s) done, 1 failed; [0-9.]* s training, [0-9.]* s overhead" "$TMP/run3.log" || fail "run 3: no summary"

# 4. The Slurm script: prefixes, then the array over the runs, then the state; valid bash.
"$MMTRAIN" ablate slurm "$TMP/sweep.yaml" --out "$TMP/sweep.sh" --time 01:00:00 > "$TMP/slurm.log" 2>&1 ||
  fail "ablate slurm failed"
bash -n "$TMP/sweep.sh" || fail "the Slurm script is not valid bash"
grep -q -- "--prefixes-only" "$TMP/sweep.sh" || fail "slurm: no prefixes job"
grep -q -- "--dependency=afterok:\$prefixes --array=0-2 " "$TMP/sweep.sh" || fail "slurm: no array after the prefixes"
# 5. ablate verify: one more variant from the same prefix; the failed run is neither retried nor reported. The sweep
# file instead of its out_dir is one line of error.
if "$MMTRAIN" ablate verify "$TMP/sweep.yaml" > "$TMP/verify_file.log" 2>&1 ||
  ! grep -q "sweep.yaml is a file; give the sweep's out_dir" "$TMP/verify_file.log"; then
  fail "ablate verify of the sweep file: no one-line error"
fi
"$MMTRAIN" ablate verify "$OUT" --set stages.sft.optimizer.lr=0.0015 > "$TMP/verify.log" 2>&1 ||
  fail "ablate verify failed"
grep -q "^verify seed 0: done (eval $OUT/runs/verify-seed0/sft/eval/step_000009.json)" "$TMP/verify.log" ||
  fail "verify: not done with an eval"
[ "$(starts "$prefix")" -eq 1 ] || fail "verify retrained the prefix"
grep -q "^  init_from: $final\$" "$OUT/runs/verify-seed0/sft/config.yaml" || fail "verify did not start from $final"
[ "$(field "[r['variant'] for r in j['runs']]")" = "['lo', 'hi', 'bad', 'verify']" ] || fail "verify: not in sweep.json"
echo "ablate run: prefix trained once, Ctrl-C resumed, failed run recorded, rerun trains nothing (in $ms ms), verify from the prefix"
