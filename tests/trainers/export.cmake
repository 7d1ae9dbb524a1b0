# Checkpoint export (trainers/export): HF Llama/Mixtral + CLIP names read back to exact logits and
# features, error cases, and scripts/golden/check_hf_export.py (an independent python3-torch HF
# Llama/Mixtral/CLIP) on the exported folder; that part WARNs and skips without /usr/bin/python3 torch.
mm_add_test(test_export SOURCES test_export.cpp LIBS mm_train_parts)
