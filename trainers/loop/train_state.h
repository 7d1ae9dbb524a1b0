// TrainState: everything a checkpoint's state.json holds, the one place it is written and read.
// Counters of the stage, the loss-spike window, the CPU generator and every rank's loader state;
// with the weights and the optimizer state it resumes the exact same run. Serialised through the
// config machinery's visit() (core/config/config.h): unknown keys are errors, keys a state.json of
// an older version lacks keep their defaults, so the schema may grow but never silently breaks.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/rules.h"

namespace mm::train {

struct TrainState {
  int64_t step = 0;                     // optimizer steps done (skipped ones included)
  std::string stage;                    // train.stage of the run that wrote it
  bool stage_complete = false;          // the stage's last step is done (the recipe hands it on)
  int64_t tokens_seen = 0;              // real tokens over all ranks
  int64_t samples_seen = 0;             // documents over all ranks
  int64_t consecutive_skips = 0;        // non-finite steps in a row, up to and including `step`
  int64_t world_size = 1;               // ranks of the run that wrote it
  std::string config_hash;              // config_hash() of the stage's config
  std::vector<double> spike_history;    // the loss-spike detector's window (SpikeDetector)
  std::string rng_cpu;                  // the default CPU generator's state, hex
  std::vector<nlohmann::json> loaders;  // data::Loader::state() of every rank, by rank

  template <class V>
  void visit(V& v) {
    v("step", step, "optimizer steps done", cfg::required());
    v("stage", stage, "the stage's name");
    v("stage_complete", stage_complete, "the stage's last step is done");
    v("tokens_seen", tokens_seen, "real tokens over all ranks");
    v("samples_seen", samples_seen, "documents over all ranks");
    v("consecutive_skips", consecutive_skips, "non-finite steps in a row");
    v("world_size", world_size, "ranks of the run");
    v("config_hash", config_hash, "hash of the stage's resolved config");
    v("spike_history", spike_history, "the loss-spike detector's window");
    v("rng_cpu", rng_cpu, "the CPU generator's state (hex)");
    v("loaders", loaders, "every rank's loader state");
  }
};

// state.json as JSON, and back. `origin` names the file in errors (one line: file, key, expected).
nlohmann::ordered_json to_json(const TrainState& state);
TrainState train_state_from_json(const nlohmann::json& j, const std::string& origin);
// <checkpoint_folder>/state.json, read and checked (throws mm::Error naming the file).
TrainState read_train_state(const std::string& checkpoint_folder);

// The default CPU generator's state as hex text, and back (throws mm::Error on malformed text).
std::string capture_cpu_rng();
void restore_cpu_rng(const std::string& hex, const std::string& origin);

}  // namespace mm::train
