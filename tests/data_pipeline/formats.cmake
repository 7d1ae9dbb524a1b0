# Format readers, their indexes and the quarantine (data_pipeline/formats, data_pipeline/quarantine).
mm_add_test(test_formats
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/test_formats_json.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_formats_wds.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_formats_index.cpp
  LIBS mm_data ${LibArchive_LIBRARIES})
target_include_directories(test_formats SYSTEM PRIVATE ${LibArchive_INCLUDE_DIRS})
