// sweep.json: the state of a running sweep (sweep_state.h).
#include "trainers/ablation/sweep_state.h"

#include <filesystem>
#include <regex>

#include "core/check.h"
#include "core/io.h"

namespace fs = std::filesystem;

namespace mm::ablation {
namespace {

cfg::Json entry_json(const EntryState& e) { return {{"status", e.status}, {"error", e.error}, {"wall_s", e.wall_s}}; }

EntryState entry_of(const cfg::Json& j) {
  EntryState e;
  if (!j.is_object()) return e;
  e.status = j.value("status", std::string("pending"));
  e.error = j.value("error", std::string());
  e.wall_s = j.value("wall_s", 0.0);
  e.eval = j.value("eval", std::string());
  return e;
}

// The entry of `list` (a sweep.json array) whose run_dir is `run_dir`, or null.
cfg::Json find_by_dir(const cfg::Json& list, const std::string& run_dir) {
  if (!list.is_array()) return nullptr;
  for (const auto& e : list)
    if (e.is_object() && e.value("run_dir", std::string()) == run_dir) return e;
  return nullptr;
}

std::string state_path(const SweepPlan& plan) { return (fs::path(plan.sweep.out_dir) / kSweepStateFile).string(); }

}  // namespace

SweepState initial_state(const SweepPlan& plan) {
  SweepState s;
  s.prefixes.resize(plan.prefixes.size());
  s.runs.resize(plan.runs.size());
  return s;
}

cfg::Json state_json(const SweepPlan& plan, const SweepState& state) {
  MM_CHECK(state.prefixes.size() == plan.prefixes.size() && state.runs.size() == plan.runs.size(),
           "sweep state: {} prefixes and {} runs for a plan of {} and {}", state.prefixes.size(), state.runs.size(),
           plan.prefixes.size(), plan.runs.size());
  cfg::Json j = plan.to_json();
  for (size_t i = 0; i < plan.prefixes.size(); ++i) j["prefixes"][i].update(entry_json(state.prefixes[i]));
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    cfg::Json& r = j["runs"][i];
    r.update(entry_json(state.runs[i]));
    r["eval"] = state.runs[i].eval;
    r["axes"] = axes_json(plan.runs[i].sets);
  }
  j["train_s"] = state.train_s;
  j["overhead_s"] = state.overhead_s;
  j["sweep_sets"] = state.sweep_sets;
  return j;
}

SweepState state_from_json(const SweepPlan& plan, const cfg::Json& j) {
  SweepState s = initial_state(plan);
  if (!j.is_object()) return s;
  for (size_t i = 0; i < plan.prefixes.size(); ++i)
    s.prefixes[i] = entry_of(find_by_dir(j.value("prefixes", cfg::Json()), plan.prefixes[i].run_dir));
  for (size_t i = 0; i < plan.runs.size(); ++i)
    s.runs[i] = entry_of(find_by_dir(j.value("runs", cfg::Json()), plan.runs[i].run_dir));
  s.train_s = j.value("train_s", 0.0);
  s.overhead_s = j.value("overhead_s", 0.0);
  s.sweep_sets = j.value("sweep_sets", std::vector<std::string>());
  return s;
}

void write_state(const SweepPlan& plan, const SweepState& state) {
  fs::create_directories(plan.sweep.out_dir);
  io::write_file_atomic(state_path(plan), state_json(plan, state).dump(2) + "\n");
}

SweepState read_state(const SweepPlan& plan) {
  const std::string path = state_path(plan);
  if (!fs::is_regular_file(path)) return initial_state(plan);
  try {
    return state_from_json(plan, cfg::Json::parse(io::read_file(path)));
  } catch (const std::exception&) {
    return initial_state(plan);  // a damaged state file: the checkpoints on disk are what counts
  }
}

std::string final_eval_json(const std::string& stage_dir) {
  const fs::path dir = fs::path(stage_dir) / "eval";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "";
  static const std::regex name(R"(step_(\d+)\.json)");
  std::string best;
  long long best_step = -1;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string f = e.path().filename().string();
    if (!e.is_regular_file() || !std::regex_match(f, m, name)) continue;
    const long long step = std::stoll(m[1].str());
    if (step > best_step) best_step = step, best = e.path().string();
  }
  return best;
}

cfg::Json axes_json(const std::vector<std::string>& sets) {
  cfg::Json out = cfg::Json::object();
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    const std::string key = s.substr(0, eq), text = eq == std::string::npos ? "" : s.substr(eq + 1);
    cfg::Json v = cfg::Json::parse(text, nullptr, /*allow_exceptions=*/false);
    out[key] = v.is_discarded() ? cfg::Json(text) : v;
  }
  return out;
}

std::string one_line(const std::string& what) {
  std::string out;
  for (size_t start = 0; start <= what.size();) {
    size_t end = what.find('\n', start);
    if (end == std::string::npos) end = what.size();
    std::string line = what.substr(start, end - start);
    start = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    const auto first = line.find_first_not_of(' ');
    if (first == std::string::npos) continue;  // an empty line
    out += (out.empty() ? "" : out.back() == ':' ? " " : "; ") + line.substr(first);
  }
  return out;
}

}  // namespace mm::ablation
