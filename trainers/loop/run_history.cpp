// run_history.jsonl (run_history.h).
#include "trainers/loop/run_history.h"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/build_info.h"
#include "core/host.h"
#include "core/logging.h"

namespace fs = std::filesystem;

namespace mm::train {

std::string run_history_path(const std::string& run_dir) { return (fs::path(run_dir) / "run_history.jsonl").string(); }

namespace {

// The first "model name" of /proc/cpuinfo ("" where there is none).
std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const size_t b = line.find_first_not_of(" \t", colon + 1);
    return b == std::string::npos ? std::string() : line.substr(b);
  }
  return "";
}

}  // namespace

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::ordered_json run_start_record(const std::string& recipe_path, const std::vector<std::string>& stages,
                                        int ranks, const std::string& command, const std::string& resume) {
  nlohmann::ordered_json r;
  r["event"] = "start";
  r["time"] = utc_timestamp();
  r["host"] = host_name();
  r["cpus"] = std::thread::hardware_concurrency();
  r["cpu_model"] = cpu_model();
  r["commit"] = build_commit();
  r["version"] = build_version();
  r["command"] = command;
  r["recipe"] = recipe_path;
  r["stages"] = stages;
  r["ranks"] = ranks;
  r["resume"] = resume;
  return r;
}

nlohmann::ordered_json stage_end_record(const std::string& stage, bool completed, int64_t steps, double wall_s,
                                        const std::string& final_checkpoint) {
  nlohmann::ordered_json r;
  r["event"] = "stage_end";
  r["time"] = utc_timestamp();
  r["stage"] = stage;
  r["completed"] = completed;
  r["steps"] = steps;
  r["wall_s"] = wall_s;
  r["final_checkpoint"] = final_checkpoint;
  return r;
}

void append_run_history(const std::string& run_dir, const nlohmann::ordered_json& record) {
  const std::string path = run_history_path(run_dir);
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  std::ofstream f(path, std::ios::app);
  f << record.dump() << '\n';
  f.flush();
  if (!f) mm::log::get("train")->warn("could not append to {} (the run report will miss this entry)", path);
}

std::vector<nlohmann::json> read_run_history(const std::string& run_dir) {
  std::vector<nlohmann::json> out;
  std::ifstream f(run_history_path(run_dir));
  for (std::string line; std::getline(f, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace mm::train
