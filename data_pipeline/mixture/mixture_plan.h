// The effective share of every source, category and group of a hierarchical mixture
// (groups -> categories by weight or alpha -> sources by weight), validated once; what
// `mmtrain info` prints and what the sampler draws from.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/config/data_config.h"
#include "core/config/mixture_config.h"

namespace mm::data {

struct SourceShare {
  std::string name, category, group;
  double share = 0.0;  // of the whole mixture; all sources sum to 1
};

struct CategoryShare {
  std::string name, group;
  double share = 0.0;           // of the whole mixture
  double share_in_group = 0.0;  // inside its group
};

struct GroupShare {
  std::string name;
  double share = 0.0;
};

struct MixturePlan {
  std::vector<SourceShare> sources;  // in the order of the sources given
  std::vector<CategoryShare> categories;
  std::vector<GroupShare> groups;

  // Share of a category (0 if absent).
  double category_share(const std::string& name) const;
  // A readable table: group, category, source and their shares in percent.
  std::string to_table() const;
  nlohmann::ordered_json to_json() const;
};

// Resolves the shares; throws mm::Error naming the group/category/source when the mixture is
// inconsistent (a source whose category is in no group, a category without sources, weights and
// alphas mixed in one group, a reference alpha other than 1, weights summing to zero).
MixturePlan compute_mixture_plan(const MixtureConfig& mixture, const std::vector<SourceConfig>& sources);

}  // namespace mm::data
