// Checkpoints of a run (DESIGN.md "Run directory"): runs/NAME/checkpoints/step_000500/{model.safetensors,
// optimizer.safetensors, state.json, config.yaml, tokenizer.model, MANIFEST} and LATEST, written
// crash-safely, verified on load, pruned by a keep-last-K-plus-every-Nth policy. tokenizer.model is the
// SentencePiece model the run trained with (absent in checkpoints written before it was carried).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mm {

struct Checkpoint {
  std::string path;  // the step_NNNNNN folder
  int64_t step = 0;
  std::map<std::string, torch::Tensor> model;
  std::map<std::string, torch::Tensor> optimizer;  // optimizer.safetensors and every optimizer shard, merged
  nlohmann::json state;                            // state.json (always holds "step")
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

  // Removes leftovers of earlier saves (.tmp.step_*, .old.step_*, LATEST.tmp.*), checks that the
  // disk has room for the checkpoint (else one line, nothing written or removed), writes
  // checkpoints/.tmp.step_NNNNNN.<pid>/ (every file fsynced, MANIFEST last; removed again when a
  // write fails), renames it to step_NNNNNN (replacing an older one of the same step), fsyncs
  // checkpoints/, then writes LATEST atomically and applies the retention policy. Returns the
  // checkpoint's folder. Assumes one writer per run directory (RunLock, core/run_lock.h).
  // `tokenizer_model`: the bytes of the SentencePiece .model the run uses, written as tokenizer.model
  // and listed in the MANIFEST (empty = none carried).
  // `optimizer_shards` (dist.shard: optimizer): files the ranks already wrote, each with its part of the
  // optimizer state (shard_file_name(rank), in shard_staging_dir(step)); they are moved into the folder and
  // listed in the MANIFEST, and `optimizer` is then empty. The staging folder is removed.
  std::string save(int64_t step, const std::map<std::string, torch::Tensor>& model,
                   const std::map<std::string, torch::Tensor>& optimizer, nlohmann::json state,
                   const std::string& config_yaml, const std::string& tokenizer_model = {},
                   const std::vector<std::string>& optimizer_shards = {});
  // Where the ranks write their optimizer shards of `step` before rank 0 saves (checkpoints/.shards.step_N;
  // a leftover of an interrupted save is removed by the next save of another step).
  std::string shard_staging_dir(int64_t step) const;
  // "optimizer.rank<r>.safetensors": rank r's optimizer shard inside a checkpoint folder.
  static std::string shard_file_name(int rank);

  // What load() reads: everything (to resume), or the weights only (to initialise a stage, to
  // evaluate or export): then the optimizer file is checked for presence and size but neither
  // hashed nor mapped, and Checkpoint::optimizer stays empty.
  enum class Part { kEverything, kWeights };
  // Verifies the MANIFEST (sizes and hashes of every file `part` reads) and loads; throws mm::Error
  // naming the bad file when anything does not verify: a corrupt checkpoint is never loaded.
  static Checkpoint load(const std::string& path, Part part = Part::kEverything);
  // Empty when the folder verifies, else the reason (one line).
  static std::string verify(const std::string& path, Part part = Part::kEverything);

  // The folder LATEST names when it verifies; otherwise (LATEST missing, dangling or pointing at
  // a bad checkpoint) the newest step_* folder that verifies, with a warning. nullopt if none.
  std::optional<std::string> find_latest_good() const;

  // step_* folders present, oldest first.
  std::vector<std::pair<int64_t, std::string>> list() const;
  static std::string folder_name(int64_t step);  // "step_000500"
  const std::string& dir() const { return dir_; }

  // Bytes a save of these tensors needs on disk (the tensors, headers, `other_bytes` of small files,
  // slack), compared with the free space before a save.
  static uint64_t estimate_bytes(const std::map<std::string, torch::Tensor>& model,
                                 const std::map<std::string, torch::Tensor>& optimizer, uint64_t other_bytes);
  // Free bytes for an unprivileged writer on the checkpoints' filesystem (statvfs).
  uint64_t free_bytes() const;
  // Tests: replaces statvfs in free_bytes() (a full disk without filling one).
  void set_free_bytes_probe(std::function<uint64_t()> probe) { free_bytes_probe_ = std::move(probe); }

 private:
  void apply_retention(int64_t latest_step) const;
  void remove_leftovers(const std::string& keep = {}) const;
  static void write_folder(const std::filesystem::path& tmp, const std::map<std::string, torch::Tensor>& model,
                           const std::map<std::string, torch::Tensor>& optimizer, const std::string& state_text,
                           const std::string& config_yaml, const std::string& tokenizer_model,
                           const std::vector<std::string>& optimizer_shards);

  std::string dir_;
  RetentionPolicy policy_;
  std::function<uint64_t()> free_bytes_probe_;
};

// The file name of the carried tokenizer inside a checkpoint folder (checkpoint_tokenizer.h reads it).
inline constexpr const char* kCheckpointTokenizer = "tokenizer.model";

}  // namespace mm
