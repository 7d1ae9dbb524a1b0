# cl100k_base and o200k_base token for token: OpenAI's tiktoken (WASM) == Hugging Face's JS tokenizers ==
# mm::tok::BpeTokenizer on a >= 1 MB mixed corpus (docs/tokenizer.md). A ctest fixture: bpe_cl100k.reference and
# bpe_o200k.reference (node; exit 77 = skipped when node or scripts/golden/bpe/node_modules is missing) write the
# corpus, the converted tokenizer.json and both references' ids into build/test_tmp/bpe_<encoding>;
# test_bpe_cl100k encodes the corpus and compares.
foreach(enc cl100k o200k)
  add_test(NAME bpe_${enc}.reference
           COMMAND sh -c "command -v node >/dev/null || { echo 'SKIPPED: no node on PATH'; exit 77; }; exec node \"$@\""
                   node ${PROJECT_SOURCE_DIR}/scripts/golden/bpe/cl100k_reference.mjs
                   ${PROJECT_BINARY_DIR}/test_tmp/bpe_${enc} ${enc}_base)
  set_tests_properties(bpe_${enc}.reference PROPERTIES FIXTURES_SETUP bpe_cl100k SKIP_RETURN_CODE 77 TIMEOUT 120
                                                       LABELS tokenizer)
endforeach()
add_executable(test_bpe_cl100k ${CMAKE_CURRENT_LIST_DIR}/test_bpe_cl100k.cpp $<TARGET_OBJECTS:mm_catch_main>)
target_link_libraries(test_bpe_cl100k PRIVATE Catch2::Catch2 mm_test_support mm_tokenizer)
target_include_directories(test_bpe_cl100k PRIVATE ${PROJECT_SOURCE_DIR})
mm_layer(test_bpe_cl100k cli)
target_compile_definitions(test_bpe_cl100k PRIVATE MM_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                                   MM_BINARY_DIR="${PROJECT_BINARY_DIR}")
mm_use_torch_pch(test_bpe_cl100k)
catch_discover_tests(test_bpe_cl100k EXTRA_ARGS --warn NoTests
                     PROPERTIES FIXTURES_REQUIRED bpe_cl100k SKIP_REGULAR_EXPRESSION "SKIPPED: " LABELS tokenizer
                                TIMEOUT 120)
# (The test reads build/test_tmp/bpe_<encoding>, the folders above; $MM_BPE_CL100K_DIR / $MM_BPE_O200K_DIR override.)
