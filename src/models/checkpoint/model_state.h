// A model's weights as a flat name -> tensor map (the checkpoint's model.safetensors), and loading a
// MultimodalModel back from a checkpoint folder, a checkpoints/ folder or a run directory.
// Contract: model.safetensors holds every parameter of the MultimodalModel under its
// named_parameters() name ("vision.*", "connector.*", "llm.*"), frozen ones included, float32;
// config.yaml is dump_yaml() of the RunConfig the checkpoint was trained with.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
#include <map>
#include <string>

#include "core/config/run_config.h"
#include "core/safetensors.h"  // TensorMap
#include "models/mllm.h"

namespace mm {

// Every parameter of `module` by its named_parameters() name: detached, contiguous copies.
TensorMap model_state(const torch::nn::Module& module);

// Copies `state` into the parameters of `module` (no grad). Throws mm::Error naming `what` (e.g. the
// file) and the first missing, unexpected or wrongly shaped tensor; dtypes are converted.
void load_model_state(torch::nn::Module& module, const TensorMap& state, const std::string& what);

// A checkpoint folder (holds MANIFEST) as given; a checkpoints/ folder or a run directory (holds
// checkpoints/) -> its newest checkpoint that verifies. Throws mm::Error with one line otherwise.
std::string resolve_checkpoint(const std::string& path);

struct LoadedModel {
  RunConfig config;                // from the checkpoint's config.yaml
  MultimodalModel model{nullptr};  // weights loaded, eval() mode, requires_grad off
  std::string path;                // the resolved checkpoint folder
  int64_t step = 0;
};

// resolve_checkpoint(path), verify its MANIFEST, build the model from config.yaml and load it.
LoadedModel load_model_checkpoint(const std::string& path);

}  // namespace mm
