# mmtrain bench: a tiny config runs timed steps and returns a well-formed result; FLOPs against a
# hand-computed case (no timing assertions).
mm_add_test(test_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bench.cpp LIBS mm_bench)
