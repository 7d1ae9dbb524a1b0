# mm_generate: prompts, greedy decoding with the KV cache (against full recomputation, batched
# against one by one), perplexity scoring, evaluate_model end to end, the word probe, and the
# generate/eval CLI (that case runs the built mmtrain); scored prompts under the hub chat templates.
mm_add_test(test_generation SOURCES test_generation.cpp test_word_probe.cpp test_prompt_hub_templates.cpp LIBS mm_generate)
target_compile_definitions(test_generation PRIVATE MM_MMTRAIN="$<TARGET_FILE:mmtrain>")
add_dependencies(test_generation mmtrain)
