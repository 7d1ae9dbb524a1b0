// Parameter selection, freezing and learning-rate groups.
#include "models/param_rules.h"

#include <functional>
#include <map>

#include "core/check.h"

namespace mm {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Glob with '*' only.
bool glob(const char* p, const char* s) {
  if (*p == '\0') return *s == '\0';
  if (*p == '*') return glob(p + 1, s) || (*s != '\0' && glob(p, s + 1));
  return *s != '\0' && *p == *s && glob(p + 1, s + 1);
}

bool is_norm(const std::string& name) {
  // LayerNorm / RMSNorm module names (layer_norm1, pre_layrnorm, input_layernorm, norm) and the
  // connectors' LayerNorm2d, registered as ".bn".
  const auto last_dot = name.rfind('.');
  const std::string module = name.substr(0, last_dot == std::string::npos ? 0 : last_dot);
  const auto prev = module.rfind('.');
  const std::string leaf = module.substr(prev == std::string::npos ? 0 : prev + 1);
  return leaf.find("norm") != std::string::npos || leaf.find("layrnorm") != std::string::npos || leaf == "bn";
}

const std::map<std::string, std::function<bool(const std::string&)>>& aliases() {
  static const std::map<std::string, std::function<bool(const std::string&)>> table = {
      {"vision", [](const std::string& n) { return starts_with(n, "vision."); }},
      {"connector", [](const std::string& n) { return starts_with(n, "connector."); }},
      {"llm", [](const std::string& n) { return starts_with(n, "llm."); }},
      {"llm.embeddings",
       [](const std::string& n) { return starts_with(n, "llm.embed_tokens.") || starts_with(n, "llm.lm_head."); }},
      {"llm.router",
       [](const std::string& n) {
         return starts_with(n, "llm.layers.") && n.find(".block_sparse_moe.gate.") != std::string::npos;
       }},
      {"norms", is_norm},
      {"vision.norms", [](const std::string& n) { return starts_with(n, "vision.") && is_norm(n); }},
      {"connector.norms", [](const std::string& n) { return starts_with(n, "connector.") && is_norm(n); }},
      {"llm.norms", [](const std::string& n) { return starts_with(n, "llm.") && is_norm(n); }},
  };
  return table;
}

}  // namespace

bool selector_matches(const std::string& selector, const std::string& name) {
  const auto& a = aliases();
  auto it = a.find(selector);
  if (it != a.end()) return it->second(name);
  if (selector.find('*') != std::string::npos) return glob(selector.c_str(), name.c_str());
  return name == selector || starts_with(name, selector + ".");
}

std::vector<ParamRuleGroup> apply_param_rules(torch::nn::Module& model, const std::vector<ParamRule>& rules) {
  for (const auto& r : rules) {
    MM_CHECK(!r.selector.empty(), "parameter rules: an empty selector");
    MM_CHECK(r.lr_mult >= 0.0, "parameter rule '{}': lr_mult must be >= 0, got {}", r.selector, r.lr_mult);
  }
  auto named = model.named_parameters(/*recurse=*/true);
  std::vector<int64_t> decided(named.size(), -1);  // rule index per parameter
  std::vector<bool> used(rules.size(), false);
  for (size_t p = 0; p < named.size(); ++p) {
    const std::string& name = named[p].key();
    for (size_t r = 0; r < rules.size(); ++r) {
      if (selector_matches(rules[r].selector, name)) {
        decided[p] = static_cast<int64_t>(r);
        used[r] = true;
      }
    }
  }
  for (size_t r = 0; r < rules.size(); ++r) {
    MM_CHECK(used[r] || aliases().count(rules[r].selector) > 0,
             "parameter rule '{}' matches no parameter (selectors: vision, connector, llm, llm.embeddings, llm.router, "
             "norms, <component>.norms, a dotted prefix or a '*' glob of parameter names)",
             rules[r].selector);
  }
  std::vector<ParamRuleGroup> groups(rules.size() + 1);  // [0] = default, [r + 1] = rule r
  groups[0].name = "default";
  for (size_t r = 0; r < rules.size(); ++r) {
    groups[r + 1].name = rules[r].selector;
    groups[r + 1].lr_mult = rules[r].lr_mult;
  }
  for (size_t p = 0; p < named.size(); ++p) {
    auto& t = named[p].value();
    const bool trainable = decided[p] < 0 || rules[decided[p]].trainable;
    t.set_requires_grad(trainable);
    if (!trainable) continue;
    auto& g = groups[decided[p] + 1];
    g.names.push_back(named[p].key());
    g.params.push_back(t);
  }
  std::vector<ParamRuleGroup> out;
  for (auto& g : groups) {
    if (!g.params.empty()) out.push_back(std::move(g));
  }
  return out;
}

}  // namespace mm
