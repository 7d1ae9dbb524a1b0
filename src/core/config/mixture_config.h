// Typed configuration of a data mixture: top-level groups with weights, categories inside a group
// given as weights or as ratios alpha to a reference category, and the sampling options.
// Sources (SourceConfig, data_config.h) join a category through their `category` field.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/rules.h"

namespace mm {

// One category inside a group. Give either `weight` (shares inside the group are the weights,
// normalised) or `alpha` (ratio to the group's reference category, whose alpha is 1); not both
// styles inside one group.
struct MixtureCategoryConfig {
  std::string name;     // matches SourceConfig::category
  double weight = 0.0;  // 0 = not given
  double alpha = 0.0;   // 0 = not given

  template <class V>
  void visit(V& v) {
    v("name", name, "category name (the sources' category field)", cfg::required() & cfg::non_empty());
    v("weight", weight, "weight inside the group (or use alpha)", cfg::non_negative());
    v("alpha", alpha, "ratio to the group's reference category (or use weight)", cfg::non_negative());
  }
};

// A top-level group (single-image, multi-image, text-only; or caption, interleaved, text).
// With no categories listed, the group holds one category with the group's own name.
struct MixtureGroupConfig {
  std::string name;
  double weight = 1.0;
  std::string reference = "general";  // alpha = 1 category when alphas are used
  std::vector<MixtureCategoryConfig> categories;

  template <class V>
  void visit(V& v) {
    v("name", name, "group name", cfg::required() & cfg::non_empty());
    v("weight", weight, "share of the whole mixture (normalised over groups)", cfg::non_negative());
    v("reference", reference, "category with alpha 1 when categories use alpha");
    v("categories", categories, "categories of this group (empty: one category named like the group)");
  }
};

// The mixture. With no groups, every source's share is its weight over the sum of all weights. The sampling's
// seed is loader.seed (mixed with the run's seed: trainers/loop/stage_run.h).
struct MixtureConfig {
  std::string sampling = "random";  // random: each position draws a source by its share;
                                    // per_batch: every global batch holds each source's share
                                    // (largest remainder), e.g. equal OCR sources
  int64_t batch_size = 0;           // global batch for per_batch (0 = the trainer's global batch)
  std::vector<MixtureGroupConfig> groups;

  template <class V>
  void visit(V& v) {
    v("sampling", sampling, "random | per_batch (every global batch holds each source's share)",
      cfg::one_of({"random", "per_batch"}));
    v("batch_size", batch_size, "global batch size for per_batch sampling (0 = the stage's)", cfg::non_negative());
    v("groups", groups, "top-level groups with weights (empty: flat source weights)");
  }
};

}  // namespace mm
