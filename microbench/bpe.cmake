# bench_bpe: byte-level BPE encoding (mm::tok::BpeTokenizer, cl100k_base) against tiktoken's WASM build (node) on the
# same >= 1 MB corpus in the same run, one thread, and the ratio (scripts/bench_bpe.sh prepares the files and runs it).
add_executable(bench_bpe ${CMAKE_CURRENT_LIST_DIR}/bench_bpe.cpp)
target_link_libraries(bench_bpe PRIVATE mm_tokenizer benchmark::benchmark)
mm_layer(bench_bpe cli)
target_compile_definitions(bench_bpe PRIVATE MM_SOURCE_DIR="${PROJECT_SOURCE_DIR}" MM_BINARY_DIR="${PROJECT_BINARY_DIR}")
