#!/usr/bin/env bash
# Writes a tiny synthetic world to DIR/world and a two-stage recipe on it to DIR/recipe.yaml
# (a 0.3M-parameter model: seconds per stage on one core). Used by the end-to-end CLI tests.
# usage: tiny_world.sh MMTRAIN SOURCE_DIR DIR
set -euo pipefail
MMTRAIN=$1; SRC=$2; DIR=$3
mkdir -p "$DIR"
"$MMTRAIN" data synth --out "$DIR/world" --set synth.counts.caption=60 --set synth.counts.interleaved=10 \
  --set synth.counts.text=60 --set synth.counts.general=30 --set synth.counts.text_rich=20 \
  --set synth.counts.refer_ground=20 --set synth.counts.knowledge=20 --set synth.counts.multi_image=10 \
  --set synth.counts.text_only=30 --set synth.counts.ocr=5 --set synth.counts.eval=4 --set synth.tile=32 >/dev/null
cat > "$DIR/recipe.yaml" <<YAML
inherit: [$SRC/configs/models/debug.yaml, $DIR/world/common.yaml]
name: tiny
model:
  vision: {image_size: 32, width: 64, layers: 1, mlp_dim: 128}
  connector: {num_tokens: 4, hidden: 64, depth: 1}
  llm: {dim: 64, layers: 2, heads: 4, kv_heads: 2, ffn_hidden: 128}
image: {tile_size: 32}
loader: {seq_len: 160, micro_batch: 4, workers: 2, prefetch: 2}
optimizer: {lr: 3.0e-3}
schedule: {warmup_steps: 2}
train: {threads: 1, log_interval: 1, checkpoint_interval: 3, grad_accum: 2}
eval: {max_items: 4, batch_size: 4, max_new_tokens: 8}
stages:
  - stage: pretrain
    inherit: [$DIR/world/stages/pretrain.yaml]
    image: {mode: single}
    data: {heldout: [{name: heldout_text, format: text, path: $DIR/world/pretrain/text.jsonl}]}
    train: {steps: 12}
  - stage: sft
    inherit: [$DIR/world/stages/sft.yaml]
    image: {mode: dynamic, nmin: 2, nmax: 4}
    optimizer: {name: adafactor, lr: 1.0e-3}
    train: {steps: 12, init_from: previous}
YAML
