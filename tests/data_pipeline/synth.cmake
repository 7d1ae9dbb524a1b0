# The synthetic world: determinism, counts, formats (read back with the real readers), boxes,
# held-out disjointness, the tokenizer.
mm_add_test(test_synth SOURCES synth/test_synth.cpp LIBS mm_data mm_tokenizer)
