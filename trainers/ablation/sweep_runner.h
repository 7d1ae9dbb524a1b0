// Internals of run_sweep (run_sweep.cpp, sweep_children.cpp): one invocation of `ablate run`.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/timer.h"
#include "trainers/ablation/run_sweep.h"
#include "trainers/ablation/sweep_state.h"
#include "trainers/loop/recipe.h"

namespace mm::ablation::detail {

// What a child (`ablate run FILE --only I`) leaves in the run directory for its parent.
inline constexpr const char* kChildStatusFile = "ablate_status.json";
// The kChildStatusFile a run left in `run_dir` ({"status", "error", "wall_s"}); nullopt when there is none or it
// does not parse.
std::optional<nlohmann::json> read_child_status(const std::string& run_dir);
// Where a child's console output goes (its run directory).
inline constexpr const char* kChildLogFile = "ablate.log";

struct Unit {
  bool prefix = false;
  size_t index = 0;
};

class Sweeper {
 public:
  Sweeper(const SweepPlan& plan, const SweepRunOptions& opts);
  SweepOutcome run();       // the whole sweep (or its prefixes)
  SweepOutcome run_only();  // opts.only: one run, its status into its run directory

 private:
  std::string label(Unit u) const;
  EntryState& entry(Unit u);
  bool used_by(Unit u, const std::string& variant) const;  // a run of `variant`, or a prefix one uses
  int64_t tokens(Unit u) const;
  // True when every stage the unit trains has completed; `eval` receives its final eval JSON.
  bool done(Unit u, std::string* eval) const;
  // The stages of the unit still to train, the first one starting from the checkpoint before it.
  train::Recipe remaining(Unit u) const;
  // Trains the unit in this process; false when a stop signal interrupted it.
  bool train_here(Unit u);
  void run_children(const std::vector<size_t>& runs);  // sweep_children.cpp
  void save();
  void progress(const std::string& now);
  void finish_entry(Unit u, const EntryState& e, double wall_s);

  const SweepPlan& plan_;
  const SweepRunOptions& opts_;
  std::ostream& out_;
  SweepState state_;
  Stopwatch wall_;
  double busy_s_ = 0;           // this invocation: seconds while something trained
  int64_t tokens_trained_ = 0;  // this invocation
  bool stopped_ = false;
  bool write_state_ = true;
};

}  // namespace mm::ablation::detail
