// Ablation sweeps (issue 26), the planning part: a sweep file (sweep_config.h) expanded into runs,
// one resolved recipe per (variant, seed), and the stages they can share. A stage is keyed by a hash
// of what changes its training (training_hash) chained with the key of the stage before it; a key
// that several runs reach is a shared prefix, trained once, and each of those runs starts its own
// stages from that prefix's checkpoint. `mmtrain ablate plan FILE` prints the plan (docs/ablations.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config_tree.h"  // cfg::Json
#include "core/config/run_config.h"
#include "trainers/ablation/sweep_config.h"
#include "trainers/loop/recipe.h"

namespace mm::ablation {

// A hash (16 hex digits) of what changes training in `cfg`: config_hash over a copy without the
// run's name, run_dir, logging, eval, held-out losses, intervals and other settings that leave the
// weights as they are (loader.workers and prefetch, checkpoint keeping, dist timeouts). init_from
// 'previous', or a path inside the run's own run_dir (what a checkpoint's saved config holds), hash
// alike: a recipe's stage keys chain the previous stage's key instead (stage_keys).
std::string training_hash(const RunConfig& cfg);

// The key of every stage of `recipe`: fnv1a64(training_hash(stage i) + key of stage i-1).
std::vector<std::string> stage_keys(const train::Recipe& recipe);

// Tokens a stage trains on: train.steps x loader.micro_batch x train.grad_accum x loader.seq_len on
// one rank (capped by train.max_tokens when set).
int64_t stage_tokens(const RunConfig& cfg);

// Reads and validates a sweep file (cfg rules, exactly one kind of axes, non-empty axes). `sets`
// override the sweep file's own keys. Throws cfg::ConfigError with one line.
SweepConfig load_sweep(const std::string& path, const std::vector<std::string>& sets = {});

// Dirichlet draws: draws x keys.size() values, each row summing to scale. Deterministic in seed.
std::vector<std::vector<double>> dirichlet_draws(const DirichletAxes& d);

// One variant of a sweep: its name and its recipe overrides ("key=value", as --set).
struct Variant {
  std::string name;
  std::vector<std::string> sets;
};

// The variants of the sweep's one kind of axes, in order (grid: the last axis varies fastest; names
// "nmax=4,weight=0.1" from the keys' last components; dirichlet: d000, d001, ...).
std::vector<Variant> expand_variants(const SweepConfig& sweep);

struct PlannedRun {
  std::string variant;
  int64_t seed = 0;
  std::vector<std::string> sets;  // the variant's overrides
  std::string run_dir;            // <out_dir>/runs/<variant>-seed<N>
  train::Recipe recipe;           // resolved (run_dir and name set to the run's)
  std::vector<std::string> keys;  // stage_keys(recipe)
  size_t first_own = 0;           // stages [0, first_own) come from shared prefixes
  int64_t own_tokens = 0;         // tokens of the stages it trains itself
};

struct SharedPrefix {
  size_t stage = 0;  // stage index
  std::string stage_name;
  std::string key;           // the stage key (16 hex digits)
  std::string from;          // key of the prefix it starts from ("" for the first stage)
  std::vector<size_t> runs;  // indices into SweepPlan::runs
  std::string run_dir;       // <out_dir>/prefixes/<key>
  int64_t tokens = 0;
};

struct SweepPlan {
  std::string sweep_path;
  SweepConfig sweep;  // resolved: name, out_dir and seeds filled in
  std::vector<std::string> stage_names;
  std::vector<std::string> varying_stages;  // stages whose key differs between runs
  std::vector<PlannedRun> runs;             // variant-major, then seed
  std::vector<SharedPrefix> prefixes;       // in stage order
  std::vector<std::string> notes;           // e.g. runs that train identically
  int64_t tokens_planned = 0;               // prefixes once + every run's own stages
  int64_t tokens_from_scratch = 0;          // every run trains every stage

  double saving() const;  // 1 - planned / from scratch
  // A readable table; tokens_per_s > 0 adds a time estimate.
  std::string to_text(double tokens_per_s = 0) const;
  cfg::Json to_json(double tokens_per_s = 0) const;
};

// Resolves every (variant, seed) through load_recipe and finds the shared prefixes. Each axis is
// first resolved alone, so a bad key fails naming the sweep file and the axis.
SweepPlan plan_sweep(const std::string& sweep_path, const SweepConfig& sweep);

}  // namespace mm::ablation
