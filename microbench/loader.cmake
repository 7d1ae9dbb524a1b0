# bench_loader: loader throughput with one worker (samples/s, tokens/s, images/s) on generated
# caption shards at 64, 112 and 336 px tiles, against what the debug and small presets consume
# per second (tokens/s ~ measured 1024^3 GEMM FLOP/s / (6 x params)).
if(MM_WITH_OPENCV)
  add_executable(bench_loader ${CMAKE_CURRENT_LIST_DIR}/bench_loader.cpp)
  target_link_libraries(bench_loader PRIVATE mm_data mm_models benchmark::benchmark)
  mm_layer(bench_loader cli)
  mm_use_torch_pch(bench_loader)
endif()
