// The sweep file, its variants and the training hash (sweep.h). The plan itself: plan.cpp.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <random>
#include <set>

#include <fmt/format.h>

#include "core/check.h"
#include "core/config/config.h"
#include "core/hash.h"
#include "trainers/ablation/sweep.h"
#include "trainers/ablation/sweep_detail.h"

namespace fs = std::filesystem;

namespace mm::ablation {

namespace detail {

std::string value_text(const cfg::Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "~";
  return v.dump();
}

std::string set_entry(const std::string& key, const cfg::Json& v) { return key + "=" + value_text(v); }

}  // namespace detail

namespace {

using detail::value_text;

std::string at(const cfg::ConfigTree& tree, const std::string& path) {
  const std::string o = tree.origin_of(path);
  return o.empty() ? std::string() : " (" + o + ")";
}

// "a.b[x].c" -> {"a", "b[x]", "c"} (dots inside brackets kept).
std::vector<std::string> components(const std::string& key) {
  std::vector<std::string> out(1);
  int depth = 0;
  for (char c : key) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == '.' && depth == 0)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

// "groups[multi-image]" -> "multi-image"; "sources[1]" stays.
std::string display(const std::string& comp) {
  const auto open = comp.find('[');
  if (open == std::string::npos || comp.back() != ']') return comp;
  const std::string inner = comp.substr(open + 1, comp.size() - open - 2);
  const bool index = !inner.empty() && inner.find_first_not_of("0123456789") == std::string::npos;
  return index ? comp : inner;
}

std::string label(const std::vector<std::string>& comps, size_t n) {
  n = std::min(n, comps.size());
  std::string out;
  for (size_t i = comps.size() - n; i < comps.size(); ++i) out += (out.empty() ? "" : ".") + display(comps[i]);
  return out;
}

// Short, unique labels of the grid's keys: the last component, with a named list entry before it
// ("multi-image.weight"); more components where two keys would read the same.
std::vector<std::string> short_labels(const std::vector<std::string>& keys) {
  std::vector<std::vector<std::string>> comps;
  std::vector<size_t> n;
  for (const auto& k : keys) {
    comps.push_back(components(k));
    const auto& c = comps.back();
    n.push_back(c.size() > 1 && c[c.size() - 2].find('[') != std::string::npos ? 2 : 1);
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < keys.size(); ++i)
      for (size_t j = i + 1; j < keys.size(); ++j)
        if (label(comps[i], n[i]) == label(comps[j], n[j])) {
          for (size_t k : {i, j})
            if (n[k] < comps[k].size()) ++n[k], changed = true;
        }
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < keys.size(); ++i) out.push_back(label(comps[i], n[i]));
  return out;
}

// A value as it reads in a folder name.
std::string name_safe(const std::string& s) {
  std::string out;
  for (char c : s)
    out += (std::isalnum(static_cast<unsigned char>(c)) || std::string("._+-").find(c) != std::string::npos) ? c : '_';
  return out;
}

bool valid_name(const std::string& s) {
  if (s.empty() || s == "." || s == "..") return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string("._+-=,").find(c) == std::string::npos)
      return false;
  return true;
}

}  // namespace

std::string training_hash(const RunConfig& cfg) {
  RunConfig c = cfg;
  const RunConfig defaults;
  std::string& init = c.train.init_from;
  if (!init.empty() && init != "previous" && !cfg.run_dir.empty()) {
    const std::string own = fs::absolute(cfg.run_dir).lexically_normal().string() + "/";
    if (fs::absolute(init).lexically_normal().string().rfind(own, 0) == 0) init = "previous";
  }
  c.name = defaults.name;
  c.run_dir = defaults.run_dir;
  c.log = defaults.log;
  c.eval = defaults.eval;
  c.data.heldout.clear();
  c.data.heldout_batches = defaults.data.heldout_batches;
  c.loader.workers = defaults.loader.workers;    // batches are identical for any count
  c.loader.prefetch = defaults.loader.prefetch;  // so is the prefetch depth
  c.train.log_interval = defaults.train.log_interval;
  c.train.checkpoint_interval = defaults.train.checkpoint_interval;  // resume is bit for bit
  c.train.keep_last = defaults.train.keep_last;
  c.train.keep_every = defaults.train.keep_every;
  c.dist.timeout_s = defaults.dist.timeout_s;
  c.dist.all_ranks_logging = defaults.dist.all_ranks_logging;
  return cfg::hash_of(c);
}

std::vector<std::string> stage_keys(const train::Recipe& recipe) {
  std::vector<std::string> keys;
  std::string prev;
  for (const auto& stage : recipe.stages) {
    prev = fnv1a64_hex(training_hash(stage) + "|" + prev);
    keys.push_back(prev);
  }
  return keys;
}

int64_t stage_tokens(const RunConfig& cfg) {
  const int64_t t = cfg.train.steps * cfg.loader.micro_batch * cfg.train.grad_accum * cfg.loader.seq_len;
  return cfg.train.max_tokens > 0 ? std::min(t, cfg.train.max_tokens) : t;
}

std::vector<std::vector<double>> dirichlet_draws(const DirichletAxes& d) {
  std::mt19937_64 rng(static_cast<uint64_t>(d.seed));
  std::gamma_distribution<double> gamma(d.alpha, 1.0);
  std::vector<std::vector<double>> out;
  const size_t k = d.keys.size();
  for (int64_t i = 0; i < d.draws; ++i) {
    std::vector<double> x(k);
    double sum = 0;
    for (auto& v : x) sum += (v = gamma(rng));
    if (!(sum > 0)) {  // every gamma draw underflowed (tiny alpha): all the mass on one key
      std::fill(x.begin(), x.end(), 0.0);
      x[std::uniform_int_distribution<size_t>(0, k - 1)(rng)] = sum = 1;
    }
    for (auto& v : x) v = v / sum * d.scale;
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<Variant> expand_variants(const SweepConfig& sweep) {
  std::vector<Variant> out;
  if (!sweep.variants.empty()) {
    for (const auto& v : sweep.variants) {
      Variant x{v.name, {}};
      for (auto it = v.set.begin(); it != v.set.end(); ++it) x.sets.push_back(detail::set_entry(it.key(), it.value()));
      out.push_back(std::move(x));
    }
  } else if (!sweep.dirichlet.keys.empty()) {
    const auto draws = dirichlet_draws(sweep.dirichlet);
    for (size_t i = 0; i < draws.size(); ++i) {
      Variant x{fmt::format("d{:03}", i), {}};
      for (size_t k = 0; k < draws[i].size(); ++k)
        x.sets.push_back(fmt::format("{}={}", sweep.dirichlet.keys[k], draws[i][k]));
      out.push_back(std::move(x));
    }
  } else if (sweep.grid.is_object() && !sweep.grid.empty()) {
    std::vector<std::string> keys;
    std::vector<const cfg::Json*> values;
    for (auto it = sweep.grid.begin(); it != sweep.grid.end(); ++it)
      keys.push_back(it.key()), values.push_back(&it.value());
    const auto labels = short_labels(keys);
    std::vector<size_t> idx(keys.size(), 0);
    for (bool more = true; more;) {
      Variant x;
      for (size_t a = 0; a < keys.size(); ++a) {
        const cfg::Json& v = (*values[a])[idx[a]];
        x.sets.push_back(detail::set_entry(keys[a], v));
        x.name += (a ? "," : "") + labels[a] + "=" + name_safe(value_text(v));
      }
      out.push_back(std::move(x));
      more = false;  // odometer: the last axis varies fastest
      for (size_t a = keys.size(); a-- > 0;) {
        if (++idx[a] < values[a]->size()) {
          more = true;
          break;
        }
        idx[a] = 0;
      }
    }
  }
  return out;
}

SweepConfig load_sweep(const std::string& path, const std::vector<std::string>& sets) {
  if (!fs::exists(path)) throw cfg::ConfigError(fmt::format("{}: no such sweep file", path));
  cfg::ConfigTree tree = cfg::load_yaml_file(path);
  for (const auto& s : sets) cfg::apply_set(tree, s);
  SweepConfig sw = cfg::from_tree<SweepConfig>(tree);

  std::vector<std::string> kinds;
  for (const char* k : {"grid", "variants", "dirichlet"})
    if (tree.root.contains(k) && !tree.root[k].is_null()) kinds.emplace_back(k);
  if (kinds.size() != 1)
    throw cfg::ConfigError(
        fmt::format("{}: give exactly one of grid, variants, dirichlet (the axes of the sweep), got {}{}", path,
                    kinds.empty() ? "none" : fmt::format("{} and {}", kinds[0], kinds[1]),
                    kinds.empty() ? "" : at(tree, kinds[1])));
  if (kinds[0] == "grid") {
    if (!sw.grid.is_object() || sw.grid.empty())
      throw cfg::ConfigError(
          fmt::format("grid: expected a map of recipe key path -> list of values{}", at(tree, "grid")));
    for (auto it = sw.grid.begin(); it != sw.grid.end(); ++it)
      if (!it.value().is_array() || it.value().empty())
        throw cfg::ConfigError(fmt::format("grid.{}: expected a non-empty list of values, got {}{}", it.key(),
                                           it.value().is_array() ? "an empty list" : "'" + value_text(it.value()) + "'",
                                           at(tree, "grid." + it.key())));
  } else if (kinds[0] == "variants") {
    if (sw.variants.empty())
      throw cfg::ConfigError(
          fmt::format("variants: expected a non-empty list of {{name, set}}{}", at(tree, "variants")));
    for (size_t i = 0; i < sw.variants.size(); ++i)
      if (!sw.variants[i].set.is_object())
        throw cfg::ConfigError(fmt::format("variants[{}].set: expected a map of recipe key path -> value{}", i,
                                           at(tree, fmt::format("variants[{}].set", i))));
  } else {
    if (sw.dirichlet.keys.empty())
      throw cfg::ConfigError(
          fmt::format("dirichlet.keys: expected a non-empty list of recipe key paths{}", at(tree, "dirichlet")));
    const std::set<std::string> unique(sw.dirichlet.keys.begin(), sw.dirichlet.keys.end());
    if (unique.size() != sw.dirichlet.keys.size())
      throw cfg::ConfigError(fmt::format("dirichlet.keys: a key is listed twice{}", at(tree, "dirichlet.keys")));
  }
  if (sw.name.empty()) sw.name = fs::path(path).stem().string();
  if (!valid_name(sw.name))
    throw cfg::ConfigError(
        fmt::format("name: '{}' is not a folder name (letters, digits, . _ + - = ,){}", sw.name, at(tree, "name")));
  if (sw.out_dir.empty()) sw.out_dir = (fs::path("runs") / "sweeps" / sw.name).string();
  if (std::set<int64_t>(sw.seeds.begin(), sw.seeds.end()).size() != sw.seeds.size())
    throw cfg::ConfigError(fmt::format("seeds: a seed is listed twice{}", at(tree, "seeds")));
  if (!sw.set.is_object())
    throw cfg::ConfigError(fmt::format("set: expected a map of recipe key path -> value{}", at(tree, "set")));

  std::string names;
  std::set<std::string> seen;
  for (const auto& v : expand_variants(sw)) {
    if (!valid_name(v.name))
      throw cfg::ConfigError(
          fmt::format("{}: variant name '{}' is not a folder name (letters, digits, . _ + - = ,)", path, v.name));
    if (!seen.insert(v.name).second)
      throw cfg::ConfigError(fmt::format("{}: two variants are named '{}'", path, v.name));
    names += (names.empty() ? "" : ", ") + v.name;
  }
  if (!sw.baseline.empty() && !seen.count(sw.baseline))
    throw cfg::ConfigError(
        fmt::format("baseline: no variant named '{}' (variants: {}){}", sw.baseline, names, at(tree, "baseline")));
  return sw;
}

}  // namespace mm::ablation
