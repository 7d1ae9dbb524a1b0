// Rank-aware logging on spdlog: `[component]` prefixes, rank 0 only by default (all ranks on
// request, each line prefixed by its rank), level from config or MM_LOG_LEVEL, optional copy
// to the run directory's log file.
#pragma once
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace mm::log {

struct Options {
  std::string level = "info";  // trace|debug|info|warn|error|off; MM_LOG_LEVEL overrides
  bool all_ranks = false;      // log on every rank (prefixed "[rank N]") instead of rank 0 only
  int rank = 0;
  std::string file;  // if set, also append to this file
};

// (Re)configures the process-wide logger. Safe to call again (e.g. once the rank is known).
void init(const Options& opts);

// A logger for one component: get("trainer")->info("step {}", s) prints "[trainer] step 3".
std::shared_ptr<spdlog::logger> get(const std::string& component);

}  // namespace mm::log
