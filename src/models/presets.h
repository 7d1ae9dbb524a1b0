// Model presets: name -> ModelConfig, read from configs/models/<name>.yaml, the presets' only
// source. The YAML files are compiled into the binary (src/models/CMakeLists.txt embeds them at
// build time and rebuilds when they change), so no binary reads them from the working directory.
// Sizes of a config: models/model_size.h.
#pragma once
#include <string>
#include <vector>

#include "core/config/model_config.h"

namespace mm {

// Preset names, in a fixed order: debug, small, the encoders, the decoders.
std::vector<std::string> model_preset_names();

// The preset's ModelConfig: configs/models/<name>.yaml (with its inherit chain) read over the
// struct defaults, exactly as a run that inherits the file reads it. Encoder presets (vit-*) set
// vision + connector only. An unknown name fails listing the valid ones.
ModelConfig model_preset(const std::string& name);

// The compiled-in text of configs/models/<name>.yaml ("" for an unknown name).
std::string model_preset_yaml(const std::string& name);

}  // namespace mm
