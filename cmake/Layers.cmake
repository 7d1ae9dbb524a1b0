# The layer order of docs/DESIGN.md ("Layers"), enforced by include paths. Each layer gets a folder
# build/layers/<layer>/ holding links to its own source folder and to the folders of the layers
# below it, and a target of that layer has this folder as its only project include path: an
# #include of a higher layer's header is "No such file or directory". trainers and eval are
# siblings (neither sees the other); cli, the tests and the benchmarks see every layer.
# tests/layers/ proves it: a deliberately upward include fails to compile, a downward one compiles.
set(MM_LAYER_FOLDERS
  core=src/core tokenizer=src/tokenizer models=src/models dist=src/dist
  data_pipeline=data_pipeline trainers=trainers eval=eval cli=src/cli)
set(MM_LAYER_SEES_core          core)
set(MM_LAYER_SEES_tokenizer     ${MM_LAYER_SEES_core} tokenizer)
set(MM_LAYER_SEES_models        ${MM_LAYER_SEES_tokenizer} models)
set(MM_LAYER_SEES_dist          ${MM_LAYER_SEES_models} dist)
set(MM_LAYER_SEES_data_pipeline ${MM_LAYER_SEES_dist} data_pipeline)
set(MM_LAYER_SEES_trainers      ${MM_LAYER_SEES_data_pipeline} trainers)
set(MM_LAYER_SEES_eval          ${MM_LAYER_SEES_data_pipeline} eval)
set(MM_LAYER_SEES_cli           ${MM_LAYER_SEES_data_pipeline} trainers eval cli)

foreach(entry IN LISTS MM_LAYER_FOLDERS)
  string(REPLACE "=" ";" pair "${entry}")
  list(GET pair 0 name)
  list(GET pair 1 folder)
  set(MM_LAYER_FOLDER_${name} ${folder})
endforeach()

foreach(layer core tokenizer models dist data_pipeline trainers eval cli)
  set(root ${PROJECT_BINARY_DIR}/layers/${layer})
  file(REMOVE_RECURSE ${root})
  file(MAKE_DIRECTORY ${root})
  foreach(seen IN LISTS MM_LAYER_SEES_${layer})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${MM_LAYER_FOLDER_${seen}} ${root}/${seen} SYMBOLIC)
  endforeach()
endforeach()

# mm_layer(target layer): the target's project includes reach `layer` and the layers below it.
function(mm_layer target layer)
  if(NOT DEFINED MM_LAYER_SEES_${layer})
    message(FATAL_ERROR "mm_layer(${target} ${layer}): unknown layer (expected one of core tokenizer models dist "
                        "data_pipeline trainers eval cli)")
  endif()
  target_include_directories(${target} PRIVATE ${PROJECT_BINARY_DIR}/layers/${layer})
endfunction()
