// RunConfig's API: the templates of config.h instantiated once for RunConfig.
#include "core/config/run_config.h"

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/logging.h"

namespace mm {

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& sets) {
  return cfg::load_config<RunConfig>(path, sets);
}

std::string dump_yaml(const RunConfig& cfg) { return cfg::to_yaml(cfg); }

std::string config_hash(const RunConfig& cfg) { return cfg::hash_of(cfg); }

nlohmann::json to_json(const RunConfig& cfg) {
  return nlohmann::json::parse(cfg::to_ordered_json(cfg).dump());
}

log::Options log_options(const RunConfig& cfg, int rank, bool with_file) {
  log::Options opts;
  opts.level = cfg.log.level;
  opts.all_ranks = cfg.log.all_ranks;
  opts.rank = rank;
  if (with_file && cfg.log.to_file) opts.file = cfg.run_dir + "/train.log";
  return opts;
}

void init_logging(const RunConfig& cfg, int rank, bool with_file) {
  log::init(log_options(cfg, rank, with_file));
}

}  // namespace mm
