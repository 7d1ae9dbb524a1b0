#!/usr/bin/env bash
# The debug recipe (configs/recipes/debug.yaml: pretrain -> ocr_cpt -> sft, AdamW then Adafactor) with
# dist.shard: parameters (ZeRO-3) on a small synthetic world: `mmtrain launch --nproc 3 -- train` trains the three
# stages (4 steps each), the SFT stage is then resumed from its step-2 checkpoint on 2 ranks, and the final
# checkpoint exports to HF folders.
set -euo pipefail
MMTRAIN=$1
SRC=$2
TMP=$(mktemp -d /tmp/mm_zero3_debug.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# The recipe reads ../../runs/world from its own folder: a copy beside a world of its own.
mkdir -p "$TMP/configs/recipes" "$TMP/configs/models" "$TMP/runs"
cp "$SRC/configs/recipes/debug.yaml" "$TMP/configs/recipes/"
cp "$SRC/configs/models/debug.yaml" "$TMP/configs/models/"
"$MMTRAIN" data synth --out "$TMP/runs/world" --set synth.counts.caption=60 --set synth.counts.interleaved=10 \
  --set synth.counts.text=60 --set synth.counts.general=30 --set synth.counts.text_rich=20 \
  --set synth.counts.refer_ground=20 --set synth.counts.knowledge=20 --set synth.counts.multi_image=10 \
  --set synth.counts.text_only=30 --set synth.counts.ocr=5 --set synth.counts.eval=4 >/dev/null

RUN="$TMP/run"
args=(train --config "$TMP/configs/recipes/debug.yaml" --no-eval --run-dir "$RUN" --set dist.shard=parameters
  --set stages.pretrain.train.steps=4 --set stages.ocr_cpt.train.steps=4 --set stages.sft.train.steps=4
  --set train.checkpoint_interval=2 --set schedule.warmup_steps=1 --set loader.micro_batch=2 --set log.all_ranks=true)
"$MMTRAIN" launch --nproc 3 -- "${args[@]}" > "$TMP/three.log" 2>&1 || { cat "$TMP/three.log"; exit 1; }
for stage in pretrain ocr_cpt sft; do
  [ -f "$RUN/$stage/checkpoints/step_000004/model.safetensors" ] || { echo "no final $stage checkpoint"; cat "$TMP/three.log"; exit 1; }
done
grep -q "dist.shard parameters: rank 2 owns" "$TMP/three.log" || { echo "three ranks did not shard"; cat "$TMP/three.log"; exit 1; }

# Resume the SFT stage from its step-2 checkpoint on 2 ranks.
rm -rf "$RUN/sft/checkpoints/step_000004"
echo step_000002 > "$RUN/sft/checkpoints/LATEST"
"$MMTRAIN" launch --nproc 2 -- "${args[@]}" --resume auto > "$TMP/two.log" 2>&1 || { cat "$TMP/two.log"; exit 1; }
grep -q "resuming from .*sft/checkpoints/step_000002" "$TMP/two.log" || { echo "sft did not resume on 2 ranks"; cat "$TMP/two.log"; exit 1; }
grep -q "was written by 3 ranks, resuming with 2" "$TMP/two.log" || { echo "no reshard 3 -> 2"; cat "$TMP/two.log"; exit 1; }
[ -f "$RUN/sft/checkpoints/step_000004/model.safetensors" ] || { echo "no final sft checkpoint after the resume"; cat "$TMP/two.log"; exit 1; }

"$MMTRAIN" export --checkpoint "$RUN/sft/checkpoints/step_000004" --out "$TMP/export" > "$TMP/export.log" 2>&1 ||
  { cat "$TMP/export.log"; exit 1; }
ls "$TMP/export"/*/*.safetensors > /dev/null 2>&1 || ls "$TMP/export"/*.safetensors > /dev/null 2>&1 ||
  { echo "export wrote no safetensors"; ls -R "$TMP/export"; exit 1; }
echo "zero3 debug recipe: 3 ranks trained, resumed on 2, exported"
