// SweepConfig: the sweep file of a data-mixture (or any config) ablation (docs/ablations.md). Typed
// like every config (visit(), rules; unknown keys get "did you mean"): the base recipe, the seeds,
// overrides shared by every run, and exactly one kind of axes: a grid, a list of named variants, or
// Dirichlet draws of weights that sum to `scale`. Axis keys are --set paths into the recipe
// (`stages.sft.data.mixture.groups[multi-image].weight`, `stages.sft.image.nmax`, `model.connector.type`).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config_tree.h"  // cfg::Json
#include "core/config/rules.h"

namespace mm::ablation {

// One row of a paper table: a name and the recipe keys it sets.
struct SweepVariant {
  std::string name;
  cfg::Json set = cfg::Json::object();  // key path -> value (any YAML value), in file order

  template <class V>
  void visit(V& v) {
    v("name", name, "variant name (its run folder and its row in the report)", cfg::required() & cfg::non_empty());
    v("set", set, "recipe key path (as --set) -> value");
  }
};

// Random weights (RegMix, Olmix): each draw is Dirichlet(alpha, ..., alpha) over `keys`, times `scale`.
struct DirichletAxes {
  std::vector<std::string> keys;  // recipe key paths whose values are drawn
  double alpha = 1.0;
  int64_t draws = 16;
  int64_t seed = 0;
  double scale = 1.0;

  template <class V>
  void visit(V& v) {
    v("keys", keys, "recipe key paths whose values are drawn (e.g. mixture group weights)");
    v("alpha", alpha, "Dirichlet concentration (1 = uniform over the simplex; small = spiky)", cfg::positive());
    v("draws", draws, "number of draws (variants d000, d001, ...)", cfg::positive());
    v("seed", seed, "seed of the draws (same seed, same draws)", cfg::non_negative());
    v("scale", scale, "what the drawn values of one draw sum to", cfg::positive());
  }
};

struct SweepConfig {
  std::string recipe;                   // the base recipe (absolute once loaded)
  std::string name;                     // "" = the sweep file's name without .yaml
  std::string out_dir;                  // "" = runs/sweeps/<name>
  std::vector<int64_t> seeds;           // empty = the recipe's own seed
  std::string baseline;                 // a variant name, or ""
  cfg::Json set = cfg::Json::object();  // key path -> value applied to every run before the axes
  cfg::Json grid;                       // key path -> list of values (the cross product), in file order
  std::vector<SweepVariant> variants;
  DirichletAxes dirichlet;

  template <class V>
  void visit(V& v) {
    v("recipe", recipe, "the base recipe", cfg::required() & cfg::non_empty() & cfg::input_path());
    v("name", name, "sweep name (default: the sweep file's name)");
    v("out_dir", out_dir, "where the sweep's runs and shared prefixes go (default runs/sweeps/<name>)");
    v("seeds", seeds, "seeds: each variant runs once per seed, which sets the recipe's `seed` (default: its own)",
      cfg::non_negative());
    v("baseline", baseline, "name of the baseline variant (optional)");
    v("set", set, "recipe key path -> value, applied to every run before the axes");
    v("grid", grid, "recipe key path -> list of values: one run per combination");
    v("variants", variants, "named variants: [{name, set: {key path: value}}]");
    v("dirichlet", dirichlet, "random weights summing to `scale`: {keys, alpha, draws, seed, scale}");
  }
};

}  // namespace mm::ablation
