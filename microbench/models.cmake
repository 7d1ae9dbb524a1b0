# bench_models: decoder forward+backward time and achieved FLOP/s relative to a large GEMM
# measured in the same run (Google Benchmark).
add_executable(bench_models ${CMAKE_CURRENT_LIST_DIR}/bench_models.cpp)
target_link_libraries(bench_models PRIVATE mm_models benchmark::benchmark ${CMAKE_DL_LIBS})
mm_layer(bench_models cli)
mm_use_torch_pch(bench_models)
