# Tile budgeting and packing tests (a tiny SentencePiece model is trained in-process).
mm_add_test(test_packing
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_packing.cpp ${CMAKE_CURRENT_LIST_DIR}/test_packing_budget.cpp
  LIBS mm_data)
