#!/usr/bin/env bash
# Writes tests/data/legacy_run: stage a's step-2 checkpoint of test_run_recipe.cpp's two-stage
# recipe, its data and its tokenizer, trained by the mmtrain binary given (the fixture in the tree
# was written by the train loop of commit 11f8387, before TrainState and train_step existed).
# Needs Debian's `sentencepiece` (spm_train). Usage: make.sh MMTRAIN SOURCE_DIR OUT_DIR
set -euo pipefail
MMTRAIN=$1; SRC=$2; OUT=$3
TMP=$(mktemp -d /tmp/mm_legacy_run.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
for i in $(seq 0 39); do
  echo "{\"text\": \"A blue square number $i sits at the bottom. What is $i plus 5?\"}"
done > "$OUT/text.jsonl"
sed 's/^{"text": "//; s/"}$//' "$OUT/text.jsonl" > "$TMP/corpus.txt"
SYMBOLS="<image>,<|system|>,<|user|>,<|assistant|>,<|end|>"
for k in $(seq 0 31); do SYMBOLS+=",<img_$k>"; done
for i in $(seq 0 16); do SYMBOLS+=",<row_$i>"; done
for j in $(seq 0 16); do SYMBOLS+=",<col_$j>"; done
SYMBOLS+=",<n>,:"
spm_train --input="$TMP/corpus.txt" --model_prefix="$TMP/spm" --vocab_size=400 --model_type=unigram \
  --character_coverage=1.0 --byte_fallback=true --split_digits=true --hard_vocab_limit=false \
  --normalization_rule_name=identity --remove_extra_whitespaces=false --add_dummy_prefix=false \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=3 --user_defined_symbols="$SYMBOLS" --required_chars=, \
  > "$TMP/spm.log" 2>&1
cp "$TMP/spm.model" "$OUT/spm.model"
cat > "$TMP/recipe.yaml" <<YAML
inherit: [$SRC/configs/models/debug.yaml]
run_dir: $TMP/run
tokenizer: {model_path: $OUT/spm.model}
model:
  vision: {image_size: 32, width: 64, layers: 1, mlp_dim: 128}
  connector: {num_tokens: 4, hidden: 64, depth: 1}
  llm: {vocab_size: 640, dim: 32, layers: 1, heads: 2, kv_heads: 1, ffn_hidden: 64}
image: {tile_size: 32}
loader: {seq_len: 48, micro_batch: 2, workers: 1, prefetch: 1}
data: {sources: [{name: text, format: text, path: $OUT/text.jsonl}]}
train: {device: cpu, threads: 1, log_interval: 1, checkpoint_interval: 2}
stages:
  - stage: a
    train: {steps: 4}
  - stage: b
    train: {steps: 3, init_from: previous}
YAML
"$MMTRAIN" train --config "$TMP/recipe.yaml" --no-eval --stage a > "$TMP/train.log" 2>&1 || { cat "$TMP/train.log"; exit 1; }
rm -rf "$OUT/step_000002"
cp -r "$TMP/run/a/checkpoints/step_000002" "$OUT/step_000002"
echo "wrote $OUT"
