#!/usr/bin/env bash
# The per-rank memory of every model preset on 80 GB GPUs for each dist.shard mode, from
# `mmtrain info --plan` (the cuda path, bf16, AdamW, the loader's default micro-batch 8 x 512 tokens,
# tiles at 672 px split dynamically (capped at what 512 tokens hold) for the ViT-H presets, at the
# model's own tile size for debug and small), then every stage of the MM1.5 recipes (4096 tokens, their
# micro-batches and image settings). 79 GiB: an H100 80GB shows 81559 MiB in nvidia-smi. Prints the
# Markdown tables of docs/distributed.md.
# Usage: scripts/memory_plan_table.sh [MMTRAIN] [--set ...]
set -euo pipefail
cd "$(dirname "$0")/.."
M=${1:-build/src/cli/mmtrain}
shift || true
gib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1073741824 }'; }
echo "| preset | parameters | tiles/seq | mode | GiB per GPU at 1 / 8 GPUs, recompute off | same, recompute on | fewest GPUs, off / on |"
echo "|---|---:|---:|---|---:|---:|---:|"
for preset in debug small 1b 3b 7b 30b 1b-moe 3b-moe; do
  case $preset in
    debug) tile=64 ;;
    small) tile=112 ;;
    *) tile=672 ;;
  esac
  args=(info --config "configs/models/$preset.yaml" --plan --json --gpu-memory 79GiB --set train.precision=bf16
    --set train.device=cuda --set image.tile_size="$tile" "$@")
  one=$("$M" "${args[@]}" --world 1)
  eight=$("$M" "${args[@]}" --world 8)
  params=$(grep -o '"params": [0-9]*' <<<"$one" | head -1 | grep -o '[0-9]*$')
  tiles=$(grep -o '"tiles_per_seq": [0-9]*' <<<"$one" | grep -o '[0-9]*$')
  mapfile -t p1 < <(grep -o '"peak": [0-9]*' <<<"$one" | grep -o '[0-9]*$')
  mapfile -t p8 < <(grep -o '"peak": [0-9]*' <<<"$eight" | grep -o '[0-9]*$')
  mapfile -t fewest < <(grep -A2 '"smallest_world"' <<<"$one" | grep -o '"\(plain\|recompute\)": [0-9]*' | grep -o '[0-9]*$')
  i=0
  for mode in none optimizer gradients parameters; do
    n_off=${fewest[$((2 * i))]}
    n_on=${fewest[$((2 * i + 1))]}
    [ "$n_off" = 0 ] && n_off="none"
    [ "$n_on" = 0 ] && n_on="none"
    echo "| $preset | $(awk -v p="$params" 'BEGIN { if (p < 1e9) printf "%.1fM", p / 1e6; else printf "%.2fB", p / 1e9 }') | $tiles | $mode |" \
      "$(gib "${p1[$((2 * i))]}") / $(gib "${p8[$((2 * i))]}") | $(gib "${p1[$((2 * i + 1))]}") / $(gib "${p8[$((2 * i + 1))]}") |" \
      "$n_off / $n_on |"
    i=$((i + 1))
  done
done

echo
echo "| recipe stage | micro-batch x tokens | tiles/seq | fewest GPUs (recompute off / on): none | optimizer | gradients | parameters | GiB per GPU at 8 GPUs, recompute on: none / optimizer / gradients / parameters |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for recipe in mm15-1b mm15-3b; do
  for stage in pretrain ocr_cpt sft; do
    args=(info --config "configs/recipes/$recipe.yaml" --stage "$stage" --plan --json --gpu-memory 79GiB "$@")
    one=$("$M" "${args[@]}" --world 1)
    eight=$("$M" "${args[@]}" --world 8)
    mb=$(grep -o '"micro_batch": [0-9]*' <<<"$one" | grep -o '[0-9]*$')
    seq=$(grep -o '"seq_len": [0-9]*' <<<"$one" | grep -o '[0-9]*$')
    tiles=$(grep -o '"tiles_per_seq": [0-9]*' <<<"$one" | grep -o '[0-9]*$')
    mapfile -t p8 < <(grep -o '"peak": [0-9]*' <<<"$eight" | grep -o '[0-9]*$')
    mapfile -t fewest < <(grep -A2 '"smallest_world"' <<<"$one" | grep -o '"\(plain\|recompute\)": [0-9]*' | grep -o '[0-9]*$')
    row="| $recipe $stage | $mb x $seq | $tiles |"
    for i in 0 1 2 3; do
      a=${fewest[$((2 * i))]} b=${fewest[$((2 * i + 1))]}
      row+=" ${a/#0/none} / ${b/#0/none} |"
    done
    row+=" $(gib "${p8[1]}") / $(gib "${p8[3]}") / $(gib "${p8[5]}") / $(gib "${p8[7]}") |"
    echo "$row"
  done
done
