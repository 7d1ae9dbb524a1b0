# The multimodal model, presets/sizes and parameter groups (included by src/models/CMakeLists.txt).
target_sources(mm_models PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/mllm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/registry.cpp
  ${CMAKE_CURRENT_LIST_DIR}/param_groups.cpp
)
