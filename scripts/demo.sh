#!/usr/bin/env bash
# The README's main command: installs, builds, writes the synthetic world, runs the debug recipe
# (pretraining -> high-resolution OCR continual pretraining -> SFT), evaluates after every stage,
# exports the final checkpoint, and prints/writes the report (table vs chance, loss curves, scores).
#
# usage: scripts/demo.sh [--quick] [--fresh]
#   --quick  the same path at a tiny size (a few minutes; CI runs it)
#   --fresh  start over (default: a rerun resumes an interrupted run, or reports a finished one)
# The full and the quick demo keep separate worlds (runs/world, runs/world-quick) and runs.
# Options: MM_BUILD_DIR (default build), MM_DEMO_DIR (default runs/demo, runs/demo-quick with --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0
FRESH=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --fresh) FRESH=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option '$arg' (expected --quick, --fresh)" >&2; exit 2 ;;
  esac
done
start=$(date +%s)
bash scripts/install_deps.sh
bash scripts/build.sh
BUILD_DIR=${MM_BUILD_DIR:-build}
MM="$BUILD_DIR/src/cli/mmtrain"
RECIPE=configs/recipes/debug.yaml
WORLD=runs/world  # the recipe inherits runs/world/{common,stages/*}.yaml
if [ $QUICK -eq 1 ]; then
  RUN=${MM_DEMO_DIR:-runs/demo-quick}
  MODE=quick
  # A world of its own: the full demo's runs/world (and what was trained on it) is never touched.
  # The recipe is the debug recipe reading this world (it sits in the world's folder, and paths
  # are relative to the file that names them, so only the inherit lines change).
  WORLD=runs/world-quick
  RECIPE=$WORLD/recipe.yaml
  # Tiny world and short stages: the whole path in a few minutes.
  SYNTH_SETS=(--set synth.counts.caption=400 --set synth.counts.interleaved=60 --set synth.counts.text=400
              --set synth.counts.ocr=60 --set synth.counts.general=150 --set synth.counts.text_rich=150
              --set synth.counts.refer_ground=150 --set synth.counts.knowledge=80 --set synth.counts.multi_image=80
              --set synth.counts.text_only=150 --set synth.counts.eval=20)
  TRAIN_SETS=(--set stages.pretrain.train.steps=30 --set stages.ocr_cpt.train.steps=10
              --set stages.sft.train.steps=30 --set schedule.warmup_steps=3 --set loader.seq_len=256
              --set train.checkpoint_interval=20 --set eval.max_items=10)
else
  RUN=${MM_DEMO_DIR:-runs/demo}
  MODE=full
  SYNTH_SETS=()
  TRAIN_SETS=()
fi

echo "== 1/6 the synthetic world -> $WORLD ($MODE)"
# Nothing finished is deleted without --fresh: a world is written once (the .demo-world marker is
# written last, so an interrupted write is redone) and kept with the runs trained on it.
if [ $FRESH -eq 1 ]; then
  rm -rf "$WORLD" "$RUN"
fi
if [ ! -f "$WORLD/.demo-world" ] && [ "$(cat "$WORLD/.demo-mode" 2>/dev/null)" = "$MODE" ]; then
  echo "$MODE" > "$WORLD/.demo-world"  # written by an earlier demo.sh, which marked it .demo-mode
fi
if [ ! -f "$WORLD/.demo-world" ]; then
  if [ -d "$RUN" ]; then
    echo "demo.sh: $RUN was trained on a world that is no longer complete in $WORLD; rerun with --fresh" >&2
    exit 1
  fi
  rm -rf "$WORLD"
  "$MM" data synth --out "$WORLD" "${SYNTH_SETS[@]}" | tail -2
  echo "$MODE" > "$WORLD/.demo-world"
else
  echo "(kept: $WORLD is complete; --fresh rewrites it and the demo run)"
fi
if [ $QUICK -eq 1 ]; then
  sed "s#\.\./\.\./runs/world/##g; s#\.\./models/#../../configs/models/#g" configs/recipes/debug.yaml > "$RECIPE"
fi

echo "== 2/6 pre-flight lint of every stage's data"
"$MM" data lint --config "$RECIPE" --quarantine "$WORLD/quarantine.jsonl" "${TRAIN_SETS[@]}" | grep -E '^(==|verdict)'

echo "== 3/6 the debug model and the recipe"
"$MM" info --config "$RECIPE" | grep -E '^# (params|model|image)' || true

echo "== 4/6 training: pretrain -> ocr_cpt -> sft, evaluated after every stage -> $RUN"
RESUME=()
[ -d "$RUN" ] && RESUME=(--resume auto)
"$MM" train --config "$RECIPE" --run-dir "$RUN" "${TRAIN_SETS[@]}" "${RESUME[@]}"

echo "== 5/6 export of the final checkpoint -> $RUN/export, and one generation"
"$MM" export --checkpoint "$RUN/sft" --out "$RUN/export"
question=$(head -1 "$WORLD/eval/general_vqa.jsonl")
image="$WORLD/eval/$(echo "$question" | sed -E 's/.*"images":\["([^"]+)".*/\1/')"
prompt=$(echo "$question" | sed -E 's/.*"question":"([^"]*)".*/\1/' | sed 's/\\n/\n/g')
answer=$(echo "$question" | sed -E 's/.*"answers":\["([^"]*)".*/\1/')
echo "question: $(echo "$prompt" | tail -1)   (reference: $answer)"
"$MM" generate --checkpoint "$RUN/sft" --prompt "$prompt" --image "$image" --max-new-tokens 16

echo "== 6/6 report"
echo "$(( $(date +%s) - start ))" > "$RUN/demo_time.txt"
"$MM" report --run-dir "$RUN" --config "$RECIPE"
echo "demo: done in $(( $(date +%s) - start )) s. Report: $RUN/report.html ($RUN/report.md)"
