// Running a sweep (issue 26; `mmtrain ablate run`, docs/ablations.md): every shared prefix trained
// once in <out_dir>/prefixes/<key> (in stage order, each starting from the checkpoint of the prefix
// it chains from), then every run's own stages in its run_dir, its first own stage starting from its
// prefix's final checkpoint. Finished prefixes and runs are skipped, interrupted ones resume, a
// failed run is recorded and the sweep goes on. The state goes to <out_dir>/sweep.json after every
// change (sweep_state.h). `mmtrain ablate slurm` writes a Slurm job-array script instead.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "trainers/ablation/sweep.h"
#include "trainers/loop/trainer.h"  // EvalHook

namespace mm::ablation {

struct SweepRunOptions {
  train::EvalHook evaluate;       // the recipe's evaluation (null = none)
  int parallel = 1;               // runs at once (child processes of `exe`) once the prefixes are trained
  int threads = 0;                // torch threads of each run (0: cores / parallel with --parallel, else the recipe's)
  long only = -1;                 // >= 0: train this run alone (its prefixes must be done); no sweep.json
  std::string only_variant;       // != "": train the runs of this variant only (ablate verify)
  bool prefixes_only = false;     // train the shared prefixes, then stop
  std::string exe;                // mmtrain (for --parallel children)
  std::vector<std::string> args;  // `ablate run` arguments that give this plan (FILE, --set ...), for children
  std::string command;            // the command line, for run_history.jsonl
  std::vector<std::string> sweep_sets;  // the sweep file's --set overrides (recorded in sweep.json)
  double planning_s = 0;                // seconds spent before run_sweep (loading and planning), counted as overhead
  std::ostream* out = nullptr;          // the sweep's progress lines (null: stdout)
};

struct SweepOutcome {
  std::vector<std::string> failed;  // one line per failed prefix and run: "prefix KEY (stage S): error",
                                    // "VARIANT seed N: error"
  bool stopped = false;             // a stop signal ended it early; a rerun resumes
  size_t runs_done = 0;             // runs whose stages have all completed
  size_t runs_failed = 0;           // runs whose status is failed
  double train_s = 0;               // this invocation: wall seconds while something trained
  double overhead_s = 0;            // this invocation: wall seconds outside training
};

// Runs the sweep (or one run with opts.only, or the prefixes with opts.prefixes_only).
SweepOutcome run_sweep(const SweepPlan& plan, const SweepRunOptions& opts);

// The config of shared prefix `p`: the stage of its first run with run_dir <out_dir>/prefixes/<key>
// and, for init_from 'previous', the final checkpoint of the prefix it chains from (when trained).
RunConfig prefix_config(const SweepPlan& plan, size_t p);

// The sweep with one more variant, `verify`, setting `sets` ("key=value"): its axes become a list
// of named variants (the grid's combinations or the Dirichlet draws, under their names) plus
// verify, so verify shares the prefixes of the others. Throws cfg::ConfigError (one line) when a
// variant is already named verify or `sets` is empty.
SweepConfig with_verify_variant(const SweepConfig& sweep, const std::vector<std::string>& sets);

// The CUDA_VISIBLE_DEVICES of the child in slot `slot` (0 .. parallel-1) on a machine with `gpus`
// GPUs: one device per slot, round robin, over the devices `visible` (the parent's
// CUDA_VISIBLE_DEVICES, "" = 0 .. gpus-1). "" when gpus is 0 (a CPU machine: nothing set).
std::string device_for_slot(int slot, int gpus, const std::string& visible);

// The order in which the sweep trains: prefixes (in stage order) first, then runs (in plan order).
// Each entry is {is_prefix, index}; a run never comes before a prefix it uses.
std::vector<std::pair<bool, size_t>> training_order(const SweepPlan& plan);

struct SlurmOptions {
  std::string exe = "mmtrain";    // how the job calls mmtrain
  std::vector<std::string> args;  // `ablate run` arguments that give this plan (FILE, --set ...)
  std::string job_name;           // default: the sweep's name
  int cpus_per_task = 0;          // 0: not set in the script
  int gpus_per_task = 0;          // 0: not set
  std::string time;               // --time for each job ("" = not set)
  std::string partition;          // "" = not set
  int max_parallel = 0;           // array throttle (%N), 0 = none
};

// A bash script that submits the sweep with sbatch: one job training the shared prefixes, an array
// job of one task per run (afterok on the prefixes), and a last job (afterany) that records
// sweep.json with a plain `ablate run`. It schedules nothing itself.
std::string slurm_script(const SweepPlan& plan, const SlurmOptions& o);

}  // namespace mm::ablation
