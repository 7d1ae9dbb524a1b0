#include "data_pipeline/mixture/mixture_plan.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "core/check.h"

namespace mm::data {

double MixturePlan::category_share(const std::string& name) const {
  for (const auto& c : categories)
    if (c.name == name) return c.share;
  return 0.0;
}

std::string MixturePlan::to_table() const {
  std::string out = fmt::format("{:<16} {:<16} {:<24} {:>8}\n", "group", "category", "source", "share");
  for (const auto& g : groups) {
    out += fmt::format("{:<16} {:<16} {:<24} {:>7.1f}%\n", g.name, "", "", 100.0 * g.share);
    for (const auto& c : categories) {
      if (c.group != g.name) continue;
      out += fmt::format("{:<16} {:<16} {:<24} {:>7.1f}%\n", "", c.name, "", 100.0 * c.share);
      for (const auto& s : sources)
        if (s.category == c.name)
          out += fmt::format("{:<16} {:<16} {:<24} {:>7.1f}%\n", "", "", s.name, 100.0 * s.share);
    }
  }
  return out;
}

nlohmann::ordered_json MixturePlan::to_json() const {
  nlohmann::ordered_json j;
  j["groups"] = nlohmann::ordered_json::array();
  for (const auto& g : groups) j["groups"].push_back({{"name", g.name}, {"share", g.share}});
  j["categories"] = nlohmann::ordered_json::array();
  for (const auto& c : categories)
    j["categories"].push_back(
        {{"name", c.name}, {"group", c.group}, {"share", c.share}, {"share_in_group", c.share_in_group}});
  j["sources"] = nlohmann::ordered_json::array();
  for (const auto& s : sources)
    j["sources"].push_back({{"name", s.name}, {"category", s.category}, {"group", s.group}, {"share", s.share}});
  return j;
}

namespace {

// Shares of the categories inside one group, in the order listed.
std::vector<double> category_shares_in_group(const MixtureGroupConfig& g) {
  bool any_weight = false, any_alpha = false;
  for (const auto& c : g.categories) {
    any_weight |= c.weight > 0;
    any_alpha |= c.alpha > 0;
  }
  MM_CHECK(!(any_weight && any_alpha), "mixture group '{}': give its categories either weights or alphas, not both",
           g.name);
  std::vector<double> w;
  for (const auto& c : g.categories) {
    if (any_alpha) {
      double a = c.alpha;
      if (c.name == g.reference) {
        MM_CHECK(a == 0.0 || a == 1.0, "mixture group '{}': reference category '{}' must have alpha 1, got {}", g.name,
                 c.name, a);
        a = 1.0;
      }
      w.push_back(a);
    } else {
      w.push_back(c.weight);
    }
  }
  double sum = 0;
  for (double x : w) sum += x;
  MM_CHECK(sum > 0, "mixture group '{}': category weights/alphas sum to zero", g.name);
  for (double& x : w) x /= sum;
  return w;
}

}  // namespace

MixturePlan compute_mixture_plan(const MixtureConfig& mixture, const std::vector<SourceConfig>& sources) {
  MM_CHECK(!sources.empty(), "mixture: no sources");
  std::set<std::string> names;
  for (const auto& s : sources) {
    MM_CHECK(names.insert(s.name).second, "mixture: source name '{}' appears twice", s.name);
    MM_CHECK(s.weight >= 0, "mixture: source '{}' has negative weight {}", s.name, s.weight);
  }

  // Weight sum of the sources of every category.
  std::map<std::string, double> cat_weight_sum;
  for (const auto& s : sources) cat_weight_sum[s.category] += s.weight;

  MixturePlan plan;
  std::map<std::string, std::string> group_of;  // category -> group
  if (mixture.groups.empty()) {
    // Flat: every source by its weight; categories and one group "all" summarise.
    double total = 0;
    for (const auto& s : sources) total += s.weight;
    MM_CHECK(total > 0, "mixture: source weights sum to zero");
    plan.groups.push_back({"all", 1.0});
    for (const auto& s : sources) {
      plan.sources.push_back({s.name, s.category, "all", s.weight / total});
      bool found = false;
      for (auto& c : plan.categories) {
        if (c.name != s.category) continue;
        c.share += s.weight / total;
        c.share_in_group = c.share;
        found = true;
      }
      if (!found) plan.categories.push_back({s.category, "all", s.weight / total, s.weight / total});
    }
    return plan;
  }

  double group_sum = 0;
  for (const auto& g : mixture.groups) group_sum += g.weight;
  MM_CHECK(group_sum > 0, "mixture: group weights sum to zero");
  for (const auto& g0 : mixture.groups) {
    MixtureGroupConfig g = g0;
    if (g.categories.empty()) g.categories.push_back({g.name, 1.0, 0.0});
    const double gshare = g.weight / group_sum;
    plan.groups.push_back({g.name, gshare});
    const auto in_group = category_shares_in_group(g);
    for (size_t i = 0; i < g.categories.size(); ++i) {
      const auto& c = g.categories[i];
      MM_CHECK(!group_of.count(c.name), "mixture: category '{}' is listed in groups '{}' and '{}'", c.name,
               group_of[c.name], g.name);
      group_of[c.name] = g.name;
      MM_CHECK(cat_weight_sum.count(c.name), "mixture group '{}': category '{}' has no sources", g.name, c.name);
      MM_CHECK(cat_weight_sum[c.name] > 0, "mixture group '{}': the sources of category '{}' have zero total weight",
               g.name, c.name);
      plan.categories.push_back({c.name, g.name, gshare * in_group[i], in_group[i]});
    }
  }
  for (const auto& s : sources) {
    if (!group_of.count(s.category)) {
      std::string listed;
      for (const auto& [cat, grp] : group_of) listed += (listed.empty() ? "" : ", ") + cat;
      MM_FAIL("mixture: source '{}' has category '{}', which no group lists (listed: {})", s.name, s.category, listed);
    }
    plan.sources.push_back({s.name, s.category, group_of[s.category],
                            plan.category_share(s.category) * s.weight / cat_weight_sum[s.category]});
  }
  return plan;
}

}  // namespace mm::data
