// A recipe: one YAML file that lists the stages of a run (pretrain -> ocr_cpt -> sft, or any names).
// The file is a RunConfig (with `inherit`) shared by every stage, plus `stages:`, a list whose
// entries override it for one stage:
//   stages:
//     - stage: pretrain                      # the stage's name (train.stage)
//       inherit: [../stages/pretrain.yaml]   # optional, relative to the recipe file
//       train: {steps: 400, init_from: ""}   # any RunConfig keys
// A file without `stages:` is a one-stage recipe. `--set` overrides apply to every stage;
// `--set stages.NAME.key=value` to one.
#pragma once
#include <string>
#include <vector>

#include "core/config/run_config.h"

namespace mm::train {

struct Recipe {
  std::string path;               // the recipe file
  std::vector<RunConfig> stages;  // resolved, in run order; stages[i].train.stage is unique
  // Index of the stage named `name`; throws mm::Error listing the stage names when absent.
  size_t index_of(const std::string& name) const;
};

// Loads and validates a recipe. Throws cfg::ConfigError / mm::Error with one line (file, stage,
// key) on bad input: unknown keys, duplicate stage names, init_from: previous on the first stage.
Recipe load_recipe(const std::string& path, const std::vector<std::string>& sets = {});

// The folder of one stage inside the run directory: <run_dir>/<stage>.
std::string stage_dir(const RunConfig& stage);

// The recipe as it was resolved, written into the run directory when training starts
// (<run_dir>/recipe.yaml): every stage's whole config, so `mmtrain train --run-dir DIR --resume
// auto` continues with exactly the configuration the run was started with, and load_recipe of
// this text gives the same stages.
inline constexpr const char* kResolvedRecipeFile = "recipe.yaml";
std::string resolved_recipe_yaml(const Recipe& recipe);

}  // namespace mm::train
