#include "core/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "core/check.h"

namespace mm::log {
namespace {

std::mutex g_mu;
Options g_opts;
// Every logger writes to this one sink; init() swaps what is behind it, so loggers handed out
// before init() (e.g. in static state) follow the new configuration.
auto g_dist = std::make_shared<spdlog::sinks::dist_sink_mt>();
std::unordered_map<std::string, std::shared_ptr<spdlog::logger>> g_loggers;
bool g_initialised = false;

spdlog::level::level_enum parse_level(const std::string& s) {
  auto lvl = spdlog::level::from_str(s);
  MM_CHECK(lvl != spdlog::level::off || s == "off", "log level: expected trace|debug|info|warn|error|off, got '{}'", s);
  return lvl;
}

// One pattern for the shared sink; %n is the logger's name, i.e. the component. (A per-logger
// set_pattern would re-format the shared sink for every logger: the last one configured would win.)
std::string pattern() {
  std::string rank = g_opts.all_ranks ? fmt::format("[rank {}] ", g_opts.rank) : "";
  return fmt::format("%H:%M:%S %^%L%$ {}[%n] %v", rank);
}

void build_sinks_locked() {
  std::vector<spdlog::sink_ptr> sinks;
  if (g_opts.all_ranks || g_opts.rank == 0) {
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    if (!g_opts.file.empty()) {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(g_opts.file, false));
    }
  }
  g_dist->set_sinks(std::move(sinks));
  g_dist->set_pattern(pattern());
}

void configure_locked(spdlog::logger& lg) {
  lg.set_level(parse_level(g_opts.level));
  lg.flush_on(spdlog::level::warn);
}

std::shared_ptr<spdlog::logger> make_locked(const std::string& component) {
  auto lg = std::make_shared<spdlog::logger>(component, g_dist);
  configure_locked(*lg);
  return lg;
}

void init_locked(const Options& opts) {
  g_opts = opts;
  if (const char* env = std::getenv("MM_LOG_LEVEL"); env && *env) g_opts.level = env;
  build_sinks_locked();
  for (auto& [name, lg] : g_loggers) configure_locked(*lg);
  g_initialised = true;
}

}  // namespace

void init(const Options& opts) {
  std::lock_guard<std::mutex> lock(g_mu);
  init_locked(opts);
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_initialised) init_locked(Options{});
  auto it = g_loggers.find(component);
  if (it != g_loggers.end()) return it->second;
  auto lg = make_locked(component);
  g_loggers.emplace(component, lg);
  return lg;
}

}  // namespace mm::log
