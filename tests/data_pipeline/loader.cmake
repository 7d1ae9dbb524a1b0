# The data loader: per-sample encoding, batches, worker threads, determinism, resume (also with
# another rank count).
mm_add_test(test_loader
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_loader.cpp
  LIBS mm_data ${LibArchive_LIBRARIES})
target_include_directories(test_loader SYSTEM PRIVATE ${LibArchive_INCLUDE_DIRS})
