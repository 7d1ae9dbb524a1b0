// The pre-flight check of a whole recipe, before step 1: every stage's settings that are otherwise
// checked only when that stage starts (the image split, warmup against the stage's steps, a
// tokenizer that fits the embedding, init_from), and the files it will read (data sources, held-out
// sources, tokenizer, eval sets). All problems are collected, so a bad value in the last stage
// fails in seconds with every other problem beside it, not days into the run. run_recipe calls it;
// `mmtrain train --dry-run` runs it alone; `mmtrain info` prints it, with missing files as notes.
#pragma once
#include <string>
#include <vector>

#include "trainers/loop/recipe.h"

namespace mm::train {

struct PreflightReport {
  std::vector<std::string> problems;  // "stage 'sft': image.mode 'anyres': ..." (settings, and files when required)
  std::vector<std::string> missing;   // files not on this machine, when they are not required
  int64_t stages_checked = 0;
  bool ok() const { return problems.empty(); }
  // "pre-flight of RECIPE: N problem(s) before step 1:\n  - ...": the error text of a failed check.
  std::string to_text(const std::string& recipe_path) const;
};

struct PreflightOptions {
  // Missing data, tokenizer and eval-set files (and a stage without sources or tokenizer path) are
  // problems (training), or only listed in PreflightReport::missing (info: a model config, or a
  // recipe whose data is on another machine).
  bool require_files = true;
  std::string only_stage;  // check this stage only ("" = every stage)
};

PreflightReport preflight(const Recipe& recipe, const PreflightOptions& opts = {});

}  // namespace mm::train
