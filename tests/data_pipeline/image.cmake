# Images: split plan, header probe, decode and rejection, tiles/normalisation.
set(_mm_image_tests test_image_split.cpp test_image_probe.cpp)
if(MM_WITH_OPENCV)
  list(APPEND _mm_image_tests test_image_decode.cpp test_image_tiles.cpp test_image_golden.cpp)
endif()
list(TRANSFORM _mm_image_tests PREPEND ${CMAKE_CURRENT_LIST_DIR}/)
mm_add_test(test_image SOURCES ${_mm_image_tests} LIBS mm_data)
