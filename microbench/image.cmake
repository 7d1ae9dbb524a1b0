# bench_image: decode + dynamic split + normalise of a 2016x2016 JPEG on one core, and the same
# through scripts/reference/image_split_ref.py (python3-opencv + numpy) in the same run.
if(MM_WITH_OPENCV)
  add_executable(bench_image ${CMAKE_CURRENT_LIST_DIR}/bench_image.cpp)
  target_link_libraries(bench_image PRIVATE mm_data benchmark::benchmark)
  mm_layer(bench_image cli)
  target_compile_definitions(bench_image PRIVATE MM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  mm_use_torch_pch(bench_image)
endif()
