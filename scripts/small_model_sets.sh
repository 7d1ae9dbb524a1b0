# Sourced by scripts/memory_plan_check.sh and scripts/shard_step_time.sh: SMALL_MODEL_SETS, the `--set`s that put
# the small preset's model (configs/models/small.yaml, 31M parameters) into the debug recipe (the preset's own file
# is a model preset, without stages).
SMALL_MODEL_SETS=(--set model.vision.image_size=112 --set model.vision.patch_size=14 --set model.vision.width=256
  --set model.vision.layers=6 --set model.vision.mlp_dim=1024 --set model.connector.hidden=256
  --set model.connector.depth=2 --set model.llm.vocab_size=4096 --set model.llm.dim=512 --set model.llm.layers=8
  --set model.llm.heads=8 --set model.llm.kv_heads=4 --set model.llm.ffn_hidden=1408 --set image.tile_size=112)
