# mm_tokenizer's sources (included by CMakeLists.txt).
target_sources(mm_tokenizer PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/special_tokens.cpp
  ${CMAKE_CURRENT_LIST_DIR}/spm_library.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/hub_tokens.cpp
  ${CMAKE_CURRENT_LIST_DIR}/train_tokenizer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/image_layout.cpp
  ${CMAKE_CURRENT_LIST_DIR}/chat_template.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sample_encoder.cpp
)

# libsentencepiece lives in its own module, dlopen'ed with RTLD_LOCAL | RTLD_DEEPBIND (spm_shim.h):
# Debian's libsentencepiece exports a bundled protobuf-lite that crashes LibTorch's libprotobuf
# when both are linked into one program. mm_tokenizer itself must not link sentencepiece.
add_library(mm_spm_shim MODULE ${CMAKE_CURRENT_LIST_DIR}/spm_shim.cpp)
mm_layer(mm_spm_shim tokenizer)
target_link_libraries(mm_spm_shim PRIVATE PkgConfig::SENTENCEPIECE)
set_target_properties(mm_spm_shim PROPERTIES PREFIX "lib" CXX_VISIBILITY_PRESET hidden
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib)
add_dependencies(mm_tokenizer mm_spm_shim)
target_compile_definitions(mm_tokenizer PRIVATE MM_SPM_SHIM_PATH="$<TARGET_FILE:mm_spm_shim>")
target_link_libraries(mm_tokenizer PRIVATE ${CMAKE_DL_LIBS})
