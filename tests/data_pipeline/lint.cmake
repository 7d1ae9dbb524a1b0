# The pre-flight data lint: the synthetic world lints clean; a damaged copy is reported record by
# record; verdicts against --max-bad-fraction; same report for any thread count.
mm_add_test(test_lint SOURCES ${CMAKE_CURRENT_LIST_DIR}/lint/test_lint.cpp LIBS mm_data mm_tokenizer)
