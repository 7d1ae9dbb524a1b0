# Images: split plan, header probe, decode and rejection, tiles/normalisation; with OpenCV also the
# decoders' byte-for-byte equality with cv::imdecode (corpora written with OpenCV, libpng and
# libjpeg: hence PNG::PNG and JPEG::JPEG) and their silence on stderr.
set(_mm_image_tests test_image_split.cpp test_image_probe.cpp)
set(_mm_image_libs mm_data)
if(MM_WITH_OPENCV)
  list(APPEND _mm_image_tests test_image_decode.cpp test_image_tiles.cpp test_image_golden.cpp
       test_image_equal_png.cpp test_image_equal_jpeg.cpp test_image_quiet.cpp
       image_test_support.cpp)
  list(APPEND _mm_image_libs PNG::PNG JPEG::JPEG)
endif()
list(TRANSFORM _mm_image_tests PREPEND ${CMAKE_CURRENT_LIST_DIR}/)
mm_add_test(test_image SOURCES ${_mm_image_tests} LIBS ${_mm_image_libs})
