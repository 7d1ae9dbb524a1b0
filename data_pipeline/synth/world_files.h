// The files that describe a synthetic world beside its data: README.md (what is in it, how it was
// made) and the recipe fragments (common.yaml: tokenizer and eval sets; stages/*.yaml: each stage's
// sources), written from the typed config structs. Internal to synth/ (write_synthetic_world).
#pragma once
#include <filesystem>

#include "core/config/synth_config.h"
#include "data_pipeline/synth/synth_world.h"
#include "data_pipeline/synth/tasks.h"

namespace mm::data::synth {

// dir/README.md. `world`: the training world (its text size is quoted).
void write_world_readme(const SynthConfig& config, const std::filesystem::path& dir, const World& world,
                        const SynthSummary& summary);
// dir/common.yaml and dir/stages/{pretrain,ocr_cpt,sft}.yaml.
void write_world_configs(const SynthConfig& config, const std::filesystem::path& dir, const SynthSummary& summary);

}  // namespace mm::data::synth
