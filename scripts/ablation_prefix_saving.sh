#!/usr/bin/env bash
# What shared prefixes save (issue 26; docs/ablations.md "What shared prefixes save"): trains the sweep
# configs/sweeps/debug-prefix-saving.yaml with `mmtrain ablate run` (pretrain and ocr_cpt once, three SFT
# variants from their checkpoint), then the same three runs from scratch with `mmtrain train` (every stage
# of each), and prints both wall times, both CPU times (user + system, of every process: steadier than wall
# time on a busy machine) and the saving. Needs the world (mmtrain data synth --out runs/world).
#   scripts/ablation_prefix_saving.sh [OUT_DIR]     (default runs/prefix-saving; about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
MMTRAIN=${MMTRAIN:-build/src/cli/mmtrain}
OUT=${1:-runs/prefix-saving}
SWEEP=configs/sweeps/debug-prefix-saving.yaml
rm -rf "$OUT" && mkdir -p "$OUT"
now() { date +%s.%N; }
# User + system CPU seconds of this shell's finished children (bash's `times`, run in this shell: no subshell).
cpu() {
  times >"$OUT/.times"
  tail -1 "$OUT/.times" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] } print s }'
}

t0=$(now)
cpu >"$OUT/.c0"; c0=$(cat "$OUT/.c0")
"$MMTRAIN" ablate run "$SWEEP" --set "out_dir=$OUT/shared" >"$OUT/shared.log" 2>&1 ||
  { echo "ablate run failed: $OUT/shared.log" >&2; exit 1; }
t1=$(now)
cpu >"$OUT/.c1"; c1=$(cat "$OUT/.c1")
# The sweep's `set` and one grid value per run, as --set flags of mmtrain train.
common=(--set schedule.warmup_steps=10 --set stages.pretrain.train.steps=60 --set stages.ocr_cpt.train.steps=30
  --set stages.sft.train.steps=30 --set stages.sft.eval.interval=0)
for w in 0 0.1 0.3; do
  "$MMTRAIN" train --config configs/recipes/debug.yaml "${common[@]}" \
    --set "stages.sft.data.mixture.groups[multi-image].weight=$w" --run-dir "$OUT/scratch/w$w" \
    >"$OUT/scratch-w$w.log" 2>&1 || { echo "mmtrain train failed: $OUT/scratch-w$w.log" >&2; exit 1; }
done
t2=$(now)
cpu >"$OUT/.c2"; c2=$(cat "$OUT/.c2")
python3 - "$t0" "$t1" "$t2" "$c0" "$c1" "$c2" <<'PY'
import sys
t0, t1, t2, c0, c1, c2 = map(float, sys.argv[1:])
for what, shared, scratch in (("wall", t1 - t0, t2 - t1), ("CPU", c1 - c0, c2 - c1)):
    print(f"{what} time: shared prefixes (ablate run) {shared:.0f} s, from scratch (3 x mmtrain train) {scratch:.0f} s,"
          f" saved {scratch - shared:.0f} s ({100 * (scratch - shared) / scratch:.1f}%)")
PY
