// The state of a running sweep (`mmtrain ablate run`, docs/ablations.md): <out_dir>/sweep.json, the
// plan's to_json() plus, for every shared prefix and run, its status, error and wall time; for runs
// the path of the final eval JSON and the variant's axes; at the top the sweep's training and
// overhead seconds. Written atomically after every change; `mmtrain ablate report` reads it.
#pragma once
#include <string>
#include <vector>

#include "core/config/config_tree.h"  // cfg::Json
#include "trainers/ablation/sweep.h"

namespace mm::ablation {

inline constexpr const char* kSweepStateFile = "sweep.json";

// pending | running | done | failed.
struct EntryState {
  std::string status = "pending";
  std::string error;  // one line, "" when none
  double wall_s = 0;  // seconds spent training it, over every invocation
  std::string eval;   // runs: the final eval JSON of the last stage ("" when none)
};

struct SweepState {
  std::vector<EntryState> prefixes;     // parallel to SweepPlan::prefixes
  std::vector<EntryState> runs;         // parallel to SweepPlan::runs
  double train_s = 0;                   // wall seconds while something trained, over every invocation
  double overhead_s = 0;                // wall seconds outside training (planning, scheduling, state), likewise
  std::vector<std::string> sweep_sets;  // the --set overrides of the sweep file this plan was made with
};

// A fresh state for `plan` (everything pending).
SweepState initial_state(const SweepPlan& plan);

// The plan's to_json() plus the state (field names in docs/ablations.md).
cfg::Json state_json(const SweepPlan& plan, const SweepState& state);

// The state recorded in `j` (a sweep.json) for the entries of `plan`, matched by run_dir; entries
// it lacks stay pending. Used on a rerun to carry wall_s, train_s and overhead_s over.
SweepState state_from_json(const SweepPlan& plan, const cfg::Json& j);

// Writes <out_dir>/sweep.json atomically.
void write_state(const SweepPlan& plan, const SweepState& state);

// The state of a previous invocation, or a fresh one when there is no (readable) sweep.json.
SweepState read_state(const SweepPlan& plan);

// <stage_dir>/eval/step_NNNNNN.json with the largest step, "" when none.
std::string final_eval_json(const std::string& stage_dir);

// The variant's axes: key path -> value as JSON (numbers, booleans, lists and maps as such,
// anything else as a string), from its "key=value" overrides.
cfg::Json axes_json(const std::vector<std::string>& sets);

// `what` on one line: the lines of a multi-line error (a pre-flight report) joined with "; " (with " "
// after a line ending in ':'), each without its indentation.
std::string one_line(const std::string& what);

}  // namespace mm::ablation
