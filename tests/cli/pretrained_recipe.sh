#!/usr/bin/env bash
# The MM1.5 recipe from a pretrained pair (configs/recipes/mm15-pretrained.yaml; docs/pretrained.md, "The MM1.5
# recipe from a pretrained pair"), end to end through the command line (issue 25's "done when"):
#  1. a Llama-3-shaped decoder folder from the committed golden llama3_bf16_sharded (bf16, 2 shards + index,
#     rope_scaling llama3) with its embedding and output head padded to 600 rows (row r = golden row r % 96) for
#     the 564-token byte-level BPE tests/data/golden/bpe/llama3.tokenizer.json, Meta's llama3 chat template in
#     tokenizer_config.json; a SigLIP-shaped encoder folder (the golden siglip_bf16: SiglipModel, bf16);
#  2. the tiny synthetic world (tiny_world.sh) where the recipe expects it (runs/world beside configs/);
#  3. `mmtrain train` of the recipe as committed, the folders given by the one --set line of its header, tiny
#     sizes, a few steps per stage and a tiny eval: three stages, the vocabulary grown 600 -> 632, the pretraining
#     loss falling, an eval JSON after every stage, the tile of stages 2-3 (48 px) interpolating the 32 px table;
#  4. `mmtrain export`: llm/ holds the tokenizer files and config.json with vocab_size 632;
#  5. the export reloaded (`mmtrain info`, then the recipe again from the exported llm/ and vision/ with the
#     decoder and encoder frozen): its own tokenizer (632 tokens, none added), and the text perplexity, which
#     only the decoder and the tokenizer's ids determine, equal to the exported run's to the last digit.
# Python (standard library only) assembles the folder and reads JSON; mmtrain does everything else.
# usage: pretrained_recipe.sh MMTRAIN SOURCE_DIR
set -euo pipefail
MMTRAIN=$(realpath "$1")
SRC=$(realpath "$2")
G=$SRC/tests/data/golden
T=$(mktemp -d "${TMPDIR:-/tmp}/mm_pretrained_recipe.XXXXXX")
trap 'rm -rf "$T"' EXIT
LOG=""
fail() {
  echo "FAIL: $*"
  if [ -n "$LOG" ] && [ -f "$LOG" ]; then
    echo "--- $LOG (last 80 lines)"
    tail -n 80 "$LOG"
  fi
  exit 1
}
run() { # run NAME CMD...: the command's output into $T/NAME.log; on failure the log is shown
  LOG=$T/$1.log
  shift
  "$@" >"$LOG" 2>&1 || fail "exit $? of: $*"
}
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# 1. The two pretrained folders.
mkdir -p "$T/hf"
python3 - "$G/hf/llama3_bf16_sharded" "$T/hf/llama3-tiny" 600 <<'PY'
import json, os, struct, sys
src, dst, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst)
index = json.load(open(os.path.join(src, "model.safetensors.index.json")))
total = 0
for shard in sorted(set(index["weight_map"].values())):
    raw = open(os.path.join(src, shard), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header, body = json.loads(raw[8:8 + n]), raw[8 + n:]
    out, chunks, offset = {}, [], 0
    for name, t in sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                          key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = t["data_offsets"]
        data, shape = body[begin:end], t["shape"]
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            row = len(data) // shape[0]
            data = b"".join(data[(r % shape[0]) * row:(r % shape[0] + 1) * row] for r in range(rows))
            shape = [rows] + shape[1:]
        out[name] = {"dtype": t["dtype"], "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
        total += len(data)
    if "__metadata__" in header:
        out["__metadata__"] = header["__metadata__"]
    h = json.dumps(out).encode()
    h += b" " * (-len(h) % 8)
    open(os.path.join(dst, shard), "wb").write(struct.pack("<Q", len(h)) + h + b"".join(chunks))
index["metadata"]["total_size"] = total
json.dump(index, open(os.path.join(dst, "model.safetensors.index.json"), "w"), indent=2)
config = json.load(open(os.path.join(src, "config.json")))
config["vocab_size"] = rows
config["max_position_embeddings"] = 512  # RoPE has no table: room for the tiles of a dynamic split
json.dump(config, open(os.path.join(dst, "config.json"), "w"), indent=2)
PY
cp "$G/bpe/llama3.tokenizer.json" "$T/hf/llama3-tiny/tokenizer.json"
python3 - "$G/chat/templates.json" "$T/hf/llama3-tiny/tokenizer_config.json" <<'PY'
import json, sys
llama3 = json.load(open(sys.argv[1]))["templates"]["llama3"]
json.dump({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": llama3},
          open(sys.argv[2], "w"), indent=2)
PY
cp -r "$G/hf/siglip_bf16" "$T/hf/siglip-tiny"

# 2. The recipe where it expects the world (../../runs/world) and the presets (../models).
mkdir -p "$T/work/configs/recipes" "$T/work/runs"
cp "$SRC/configs/recipes/mm15-pretrained.yaml" "$T/work/configs/recipes/"
ln -s "$SRC/configs/models" "$T/work/configs/models"
run world "$SRC/tests/cli/tiny_world.sh" "$MMTRAIN" "$SRC" "$T/tiny"
mv "$T/tiny/world" "$T/work/runs/world"
RECIPE=$T/work/configs/recipes/mm15-pretrained.yaml

TINY=(--set model.connector.num_tokens=4 --set model.connector.hidden=64 --set model.connector.depth=1
  --set stages.pretrain.image.tile_size=32 --set stages.ocr_cpt.image.tile_size=48
  --set stages.sft.image.tile_size=48 --set loader.seq_len=512 --set loader.micro_batch=4 --set loader.workers=1
  --set train.precision=fp32 --set train.threads=1 --set train.log_interval=1 --set schedule.warmup_steps=1
  --set eval.max_items=4 --set eval.batch_size=4 --set eval.max_new_tokens=8)

# 3. The three stages from the pair (the one --set line of the recipe's header names the folders).
cd "$T/work"
run train "$MMTRAIN" train --config "$RECIPE" --set model.llm.from=hf:"$T/hf/llama3-tiny" \
  --set model.vision.from=hf:"$T/hf/siglip-tiny" "${TINY[@]}" --set run_dir="$T/run" \
  --set stages.pretrain.train.steps=12 --set stages.pretrain.optimizer.lr=3e-3 \
  --set stages.ocr_cpt.train.steps=2 --set stages.sft.train.steps=3
grep -q "stage 'pretrain': decoder from $T/hf/llama3-tiny (LlamaForCausalLM, 21 tensors, BF16 on disk -> Float), vocabulary 600 -> 632 rows" "$LOG" ||
  fail "the decoder folder was not loaded with its vocabulary grown 600 -> 632"
grep -q "stage 'pretrain': vision encoder from $T/hf/siglip-tiny (SiglipModel" "$LOG" ||
  fail "the SigLIP folder was not loaded"
for s in pretrain ocr_cpt sft; do
  grep -q "stage '$s' done" "$LOG" || fail "stage $s did not complete"
  ls "$T/run/$s/eval/"step_*.json >/dev/null 2>&1 || fail "no eval JSON after stage $s"
  grep -q "^    vocab_size: 632$" "$T/run/$s/config.yaml" || fail "$s/config.yaml does not record vocab_size 632"
done
grep -q "^  model_path: $T/hf/llama3-tiny/tokenizer.json$" "$T/run/pretrain/config.yaml" ||
  fail "the run's tokenizer is not the folder's tokenizer.json"
grep -q "^  chat_template: llama3$" "$T/run/sft/config.yaml" || fail "the chat template is not the folder's llama3"
# Training from the pair learns: the pretraining loss of the last 3 steps is well below that of the first 3.
python3 - "$T/run/pretrain/metrics.jsonl" <<'PY' || fail "the pretraining loss did not fall"
import json, sys
loss = [r["loss"] for r in map(json.loads, open(sys.argv[1])) if "loss" in r]
first, last = sum(loss[:3]) / 3, sum(loss[-3:]) / 3
print(f"pretraining loss {first:.3f} -> {last:.3f} over {len(loss)} steps")
sys.exit(0 if len(loss) == 12 and last < first - 0.5 else 1)
PY
SFT_EVAL=$(ls "$T/run/sft/eval/"step_*.json | tail -n 1)
PPL=$(json "$SFT_EVAL" "repr(j['benchmarks']['text_ppl']['score'])")
PPL0=$(json "$(ls "$T/run/pretrain/eval/"step_*.json | tail -n 1)" "repr(j['benchmarks']['text_ppl']['score'])")
[ "$PPL" != "$PPL0" ] || fail "the text perplexity did not change from pretraining to SFT ($PPL)"

# 4. Export.
run export "$MMTRAIN" export --checkpoint "$T/run/sft" --out "$T/export"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json special_tokens_map.json; do
  [ -f "$T/export/llm/$f" ] || fail "the export has no llm/$f"
done
for f in config.json model.safetensors; do [ -f "$T/export/vision/$f" ] || fail "the export has no vision/$f"; done
[ "$(json "$T/export/llm/config.json" "j['vocab_size']")" = 632 ] || fail "llm/config.json: vocab_size is not 632"
[ "$(json "$T/export/vision/config.json" "j['model_type']")" = siglip_vision_model ] ||
  fail "vision/config.json is not a SigLIP vision model"

# 5. The export reloads: info reads its tokenizer as it is (nothing added) ...
REL=(--set model.llm.from=hf:"$T/export/llm" --set model.vision.from=hf:"$T/export/vision")
run info "$MMTRAIN" info --config "$RECIPE" "${REL[@]}" "${TINY[@]}"
grep -q "tokenizer: byte-level BPE $T/export/llm/tokenizer.json" "$LOG" || fail "info: not the export's tokenizer"
grep -q "vocabulary 632 (632 from the file, 0 added by mmtrain)" "$LOG" || fail "info: the export's tokenizer grew"
grep -q "chat template llama3 (the folder's is llama3)" "$LOG" || fail "info: the export's template is not llama3"
grep -q "vocab 632, hidden 32, layers 2" "$LOG" || fail "info: the export's decoder is not 632 x 32, 2 layers"
# ... and the recipe trains from it (decoder and encoder frozen, the fresh connector trains): every stage's text
# perplexity equals the exported run's, so the same ids reach the same weights.
run reload "$MMTRAIN" train --config "$RECIPE" "${REL[@]}" "${TINY[@]}" --set run_dir="$T/reload" \
  --set train.steps=1 --set 'train.params=[{select: vision, trainable: false}, {select: llm, trainable: false}]'
grep -q "decoder from $T/export/llm (LlamaForCausalLM, 21 tensors, F32 on disk -> Float)$" "$LOG" ||
  fail "the reload did not read the exported decoder as it is (no rows added)"
for s in pretrain ocr_cpt sft; do
  grep -q "stage '$s' done" "$LOG" || fail "reload: stage $s did not complete"
  P=$(json "$(ls "$T/reload/$s/eval/"step_*.json | tail -n 1)" "repr(j['benchmarks']['text_ppl']['score'])")
  [ "$P" = "$PPL" ] || fail "reload: stage $s text perplexity $P, the exported run's $PPL"
done
echo "OK: three stages from the pair, export, reload (text perplexity $PPL before and after the export)"
