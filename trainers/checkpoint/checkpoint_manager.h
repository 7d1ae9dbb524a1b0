// Checkpoints of a run (DESIGN.md "Run directory"): runs/NAME/checkpoints/step_000500/{model.safetensors,
// optimizer.safetensors, state.json, config.yaml, MANIFEST} and LATEST, written crash-safely,
// verified on load, pruned by a keep-last-K-plus-every-Nth policy.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mm::train {

struct Checkpoint {
  std::string path;  // the step_NNNNNN folder
  int64_t step = 0;
  std::map<std::string, torch::Tensor> model;
  std::map<std::string, torch::Tensor> optimizer;
  nlohmann::json state;  // state.json (always holds "step")
  std::string config_yaml;
};

struct RetentionPolicy {
  int64_t keep_last = 3;   // the newest K checkpoints are kept (>= 1)
  int64_t keep_every = 0;  // also keep every checkpoint whose step is a multiple of N (0 = none)
};

class CheckpointManager {
 public:
  // `dir` is runs/NAME/checkpoints (created when missing).
  explicit CheckpointManager(std::string dir, RetentionPolicy policy = {});

  // Writes checkpoints/.tmp.step_NNNNNN.<pid>/ (every file fsynced, MANIFEST last), renames it to
  // step_NNNNNN (replacing an older one of the same step), fsyncs checkpoints/, then writes LATEST
  // atomically and applies the retention policy. Returns the checkpoint's folder.
  std::string save(int64_t step, const std::map<std::string, torch::Tensor>& model,
                   const std::map<std::string, torch::Tensor>& optimizer, nlohmann::json state,
                   const std::string& config_yaml);

  // Verifies the MANIFEST (sizes and hashes of every file) and loads; throws mm::Error naming the
  // bad file when anything does not verify: a corrupt checkpoint is never loaded.
  static Checkpoint load(const std::string& path);
  // Empty when the folder verifies, else the reason (one line).
  static std::string verify(const std::string& path);

  // The folder LATEST names when it verifies; otherwise (LATEST missing, dangling or pointing at
  // a bad checkpoint) the newest step_* folder that verifies, with a warning. nullopt if none.
  std::optional<std::string> find_latest_good() const;

  // step_* folders present, oldest first.
  std::vector<std::pair<int64_t, std::string>> list() const;
  static std::string folder_name(int64_t step);  // "step_000500"
  const std::string& dir() const { return dir_; }

 private:
  void apply_retention(int64_t latest_step) const;

  std::string dir_;
  RetentionPolicy policy_;
};

}  // namespace mm::train
