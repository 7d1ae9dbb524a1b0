// RunConfig's API: the templates of config.h instantiated once for RunConfig.
#include "core/config/run_config.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/logging.h"

namespace mm {

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& sets) {
  return cfg::load_config<RunConfig>(path, sets);
}

std::string dump_yaml(const RunConfig& cfg) { return cfg::to_yaml(cfg); }

std::string config_hash(const RunConfig& cfg) { return cfg::hash_of(cfg); }

nlohmann::json to_json(const RunConfig& cfg) { return nlohmann::json::parse(cfg::to_ordered_json(cfg).dump()); }

std::vector<std::string> config_differences(const RunConfig& before, const RunConfig& after) {
  // JSON pointers ("/train/steps", "/data/sources/0/weight") of the flattened configs, compared.
  const nlohmann::json a = to_json(before).flatten(), b = to_json(after).flatten();
  auto key = [](const std::string& pointer) {
    std::string out;
    size_t i = 1;
    while (i <= pointer.size()) {
      const size_t next = std::min(pointer.find('/', i), pointer.size());
      const std::string part = pointer.substr(i, next - i);
      const bool index = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
      out += index ? "[" + part + "]" : (out.empty() ? "" : ".") + part;
      i = next + 1;
    }
    return out;
  };
  std::vector<std::string> out;
  auto value = [](const nlohmann::json& j, const std::string& k) {
    return j.contains(k) ? j.at(k).dump() : std::string("(none)");
  };
  for (const auto& [k, v] : a.items())
    if (!b.contains(k) || b.at(k) != v) out.push_back(key(k) + ": " + value(a, k) + " -> " + value(b, k));
  for (const auto& [k, v] : b.items())
    if (!a.contains(k)) out.push_back(key(k) + ": (none) -> " + v.dump());
  std::sort(out.begin(), out.end());
  return out;
}

log::Options log_options(const RunConfig& cfg, int rank, bool with_file) {
  log::Options opts;
  opts.level = cfg.log.level;
  opts.all_ranks = cfg.log.all_ranks || cfg.dist.all_ranks_logging;  // the older spelling still works
  opts.rank = rank;
  if (with_file && cfg.log.to_file) opts.file = cfg.run_dir + "/train.log";
  return opts;
}

void init_logging(const RunConfig& cfg, int rank, bool with_file) { log::init(log_options(cfg, rank, with_file)); }

}  // namespace mm
