#!/usr/bin/env bash
# The demo's recipe (configs/recipes/debug.yaml: pretraining -> OCR -> SFT on the synthetic world)
# scaled up on a GPU, to see what the debug preset reaches with more training than 2 cores give it
# in 20 minutes (issue 8; docs/investigations/what-seven-times-the-training-reaches.md). Everything but the amount of training stays the demo's:
#   - a world --world-scale times larger (every training set; the eval sets are the same items),
#   - micro-batches of --micro-batch sequences (the demo's 8) with the recipe's learning rates,
#   - the three stages' step counts (400 / 120 / 500 in the recipe) multiplied by --steps-scale,
#   - SFT scored at half and at the end (pretraining and OCR are not: they only continue captions).
# Measured on one H100 with 16 cores (same page): the defaults (world x8, micro-batch 32,
# steps x1.8: 7.2 times the demo's tokens in every stage) take 276 s in all. The first 40 s or so of
# each stage run several times slower than the rest (not investigated; see docs/gpu.md), so step
# times from a short run overestimate a long one.
# Writes the run under --run (default runs/scaled-demo), its report.md, and, when OUT is set,
# $OUT/scaled_demo.tgz (report, metrics, eval reports, training log).
#
# usage: scripts/gpu/scaled_demo.sh [--mm BIN] [--run DIR] [--steps-scale F] [--world-scale K]
#                                   [--micro-batch N] [--workers W] [--device D] [--set KEY=VALUE]...
#   --set is passed to `mmtrain train` (e.g. eval.max_items=20); ctest scaled_demo_cpu runs the
#   whole script on the CPU at a tiny size.
# On the GPU machine after scripts/gpu/build_and_run.sh: --mm /tmp/mmtrain-gpu/build/src/cli/mmtrain
# (its library path is read from /tmp/mmtrain-gpu/env.sh, which build_and_run.sh writes).
set -euo pipefail
cd "$(dirname "$0")/../.."
MM=build/src/cli/mmtrain
RUN=runs/scaled-demo
WSCALE=8
MB=32
WORKERS=$(( $(nproc) / 2 ))
FACTOR=1.8
DEVICE=cuda
EXTRA=()
while (($#)); do
  case "$1" in
    --mm) MM=$2; shift 2 ;;
    --run) RUN=$2; shift 2 ;;
    --world-scale) WSCALE=$2; shift 2 ;;
    --micro-batch) MB=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --steps-scale) FACTOR=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    --set) EXTRA+=(--set "$2"); shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "scaled_demo: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
START=$(date +%s)
# build_and_run.sh's work folder holds build/ and env.sh (the carried libraries' path).
ENV_SH=$(dirname "$MM")/../../../env.sh
if [ -f "$ENV_SH" ]; then source "$ENV_SH"; fi
[ -x "$MM" ] || { echo "scaled_demo: no mmtrain at $MM (build first, or pass --mm)" >&2; exit 1; }
PY=python3
command -v "$PY" >/dev/null || { echo "scaled_demo: needs python3 for the step arithmetic" >&2; exit 1; }
"$PY" -c "assert float('$FACTOR') > 0" 2>/dev/null || { echo "scaled_demo: --steps-scale must be a positive number, got '$FACTOR'" >&2; exit 2; }
"$PY" -c "assert float('$WSCALE') > 0" 2>/dev/null || { echo "scaled_demo: --world-scale must be a positive number, got '$WSCALE'" >&2; exit 2; }
WORKERS=$(( WORKERS < 1 ? 1 : WORKERS ))
mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)
WORLD=$RUN/world
RECIPE=$RUN/recipe.yaml

# ---- the world, K times larger (same seed: the eval sets are the demo's items) -------------------
SETS=(--set synth.threads="$(nproc)" --set synth.counts_scale="$WSCALE")
echo "== world x$WSCALE -> $WORLD"
rm -rf "$WORLD"
"$MM" data synth --out "$WORLD" "${SETS[@]}" | tail -1
# The recipe, reading this world instead of runs/world (its inherit paths made absolute).
sed "s#\.\./\.\./runs/world/#$WORLD/#g; s#\.\./models/#$PWD/configs/models/#g" configs/recipes/debug.yaml > "$RECIPE"
mapfile -t STEPS < <(grep -oE '(^|[^_])steps: [0-9]+' configs/recipes/debug.yaml | awk '{print $NF}')
((${#STEPS[@]} == 3)) || { echo "scaled_demo: expected 3 'steps:' entries in configs/recipes/debug.yaml" >&2; exit 1; }
COMMON=(--set train.device="$DEVICE" --set loader.micro_batch="$MB" --set loader.workers="$WORKERS"
        --set train.threads=4 --set train.log_interval=10 "${EXTRA[@]}")

S=()
for i in 0 1 2; do S+=("$("$PY" -c "print(max(1, round(${STEPS[$i]} * $FACTOR)))")"); done
# The warm-up scales with the steps too (at least 1, at most the shortest stage).
WARM=$(grep -oE 'warmup_steps: [0-9]+' configs/recipes/debug.yaml | awk '{print $NF}')
WARM=$("$PY" -c "print(max(1, min(round(${WARM:-30} * $FACTOR), ${S[0]}, ${S[1]}, ${S[2]})))")
echo "== training: steps x$FACTOR = ${S[0]} / ${S[1]} / ${S[2]} (the demo: ${STEPS[*]}), micro-batch $MB (the demo: 8)"
rm -rf "$RUN/run"
if ! "$MM" train --config "$RECIPE" --run-dir "$RUN/run" "${COMMON[@]}" \
  --set stages.pretrain.train.steps="${S[0]}" --set stages.ocr_cpt.train.steps="${S[1]}" \
  --set stages.sft.train.steps="${S[2]}" --set schedule.warmup_steps="$WARM" --set stages.sft.eval.interval="$(( (S[2] + 1) / 2 ))" \
  --set 'stages.pretrain.eval.sets=[]' --set 'stages.ocr_cpt.eval.sets=[]' \
  --set train.checkpoint_interval=100000 2>&1 | tee "$RUN/train.log" |
  awk '/\] step [0-9]+\/[0-9]+ /{ match($0, /step [0-9]+\/[0-9]+/); split(substr($0, RSTART + 5, RLENGTH - 5), a, "/");
         b = int(5 * a[1] / a[2]); if (b != last) { print; last = b }; next }
       /stage |\[eval\] (report|evaluated)| E \[| W \[/ { print }'; then
  tail -5 "$RUN/train.log"; echo "scaled_demo: training failed ($RUN/train.log)" >&2; exit 1
fi
"$MM" report --run-dir "$RUN/run" --config "$RECIPE" > /dev/null 2>&1
grep -qE '^\| sft \| [0-9]+ \|' "$RUN/run/report.md" || { echo "scaled_demo: $RUN/run/report.md has no SFT scores" >&2; exit 1; }
echo "scaled_demo: ${S[0]} / ${S[1]} / ${S[2]} steps at micro-batch $MB, world x$WSCALE, in $(( $(date +%s) - START )) s"
sed -n '/## Scores/,/^Each stage/p' "$RUN/run/report.md"
if [ -n "${OUT:-}" ]; then
  (cd "$RUN" && tar -czf "$OUT/scaled_demo.tgz" run/report.md run/*.svg run/*/metrics.jsonl run/*/eval/*.md \
     run/*/eval/*.json train.log 2>/dev/null) || true
fi
