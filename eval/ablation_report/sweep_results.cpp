// Reading a sweep directory (sweep_results.h): sweep.json, each run's final eval JSON and the
// mixture of its varying stage; the CSV files. The statistics over them: sweep_cells.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/check.h"
#include "core/config/config_tree.h"
#include "core/io.h"
#include "eval/ablation_report/sweep_results.h"
#include "eval/eval_item.h"

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace mm::eval::ablation {
namespace {

ordered_json read_json(const std::string& path, const std::string& what) {
  MM_CHECK(fs::exists(path), "{}: no such file ({})", path, what);
  try {
    return ordered_json::parse(io::read_file(path));
  } catch (const json::exception& e) {
    MM_FAIL("{}: not valid JSON ({})", path, without_location(e.what()));
  }
}

// The eval JSON with the largest step in <stage dir>/eval, "" when none.
std::string last_eval_json(const fs::path& eval_dir) {
  std::string best;
  int64_t best_step = -1;
  if (!fs::is_directory(eval_dir)) return best;
  for (const auto& e : fs::directory_iterator(eval_dir)) {
    const std::string stem = e.path().stem().string();
    if (e.path().extension() != ".json" || stem.rfind("step_", 0) != 0 || stem.size() == 5) continue;
    if (!std::all_of(stem.begin() + 5, stem.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    const int64_t step = std::stoll(stem.substr(5));
    if (step > best_step) best_step = step, best = e.path().string();
  }
  return best;
}

// A path from sweep.json: as written when it exists, else under the sweep directory.
std::string resolve(const std::string& p, const fs::path& dir, const fs::path& alt) {
  if (p.empty()) return "";
  if (fs::exists(p)) return p;
  if (fs::path(p).is_relative() && fs::exists(dir / p)) return (dir / p).string();
  return fs::exists(alt) ? alt.string() : "";
}

void read_scores(const std::string& path, SweepRun* run) {
  const ordered_json j = read_json(path, "the run's eval report");
  MM_CHECK(j.is_object() && j.contains("categories") && j["categories"].is_object(),
           "{}: not an eval report (expected an object with \"categories\")", path);
  for (const auto& [k, v] : j["categories"].items())
    if (v.is_number()) run->scores[k] = v.get<double>();
  if (j.contains("mmbase") && j["mmbase"].is_number()) run->scores[kMMBase] = j["mmbase"].get<double>();
  if (j.contains("benchmarks") && j["benchmarks"].is_object())
    for (const auto& [name, b] : j["benchmarks"].items()) {
      if (!b.is_object() || !b.contains("category") || !b.contains("n") || !b["n"].is_number()) continue;
      if (b.value("metric", "") == "perplexity") continue;
      const std::string cat = b["category"].get<std::string>();
      run->items[cat] += b["n"].get<int64_t>();
      if (cat == "general" || cat == "text-rich" || cat == "knowledge") run->items[kMMBase] += b["n"].get<int64_t>();
    }
}

// data.mixture.groups of the stage's resolved config.yaml -> normalised weights.
void read_mixture(const fs::path& config, SweepRun* run, std::vector<std::string>* notes) {
  if (!fs::exists(config)) return;
  const cfg::Json root = cfg::load_yaml_file(config.string()).root;
  const cfg::Json* groups = &root;
  for (const char* k : {"data", "mixture", "groups"}) {
    if (!groups->is_object() || !groups->contains(k)) return;
    groups = &(*groups)[k];
  }
  if (!groups->is_array()) return;
  double total = 0;
  std::vector<std::pair<std::string, double>> w;
  for (const auto& g : *groups) {
    if (!g.is_object() || !g.contains("name") || !g.contains("weight")) continue;
    try {
      w.emplace_back(g["name"].get<std::string>(), std::stod(g["weight"].get<std::string>()));
    } catch (const std::exception&) {
      notes->push_back(fmt::format("{}: a mixture group's weight is not a number", config.string()));
      return;
    }
    total += w.back().second;
  }
  if (total <= 0) return;
  for (const auto& [name, x] : w) run->mixture[name] = x / total;
}

ordered_json parse_value(const std::string& text) {
  try {
    return ordered_json::parse(text);
  } catch (const json::exception&) {
    return text;
  }
}

}  // namespace

std::string value_text(const ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:.4g}", v.get<double>());  // shown in tables
  return v.dump();
}

std::vector<const SweepRun*> SweepResults::usable_runs(const std::string& variant) const {
  std::vector<const SweepRun*> out;
  for (const auto& r : runs)
    if (r.usable() && (variant.empty() || r.variant == variant)) out.push_back(&r);
  return out;
}

std::vector<double> SweepResults::values(const std::string& variant, const std::string& metric) const {
  std::vector<double> out;
  for (const SweepRun* r : usable_runs(variant))
    if (auto it = r->scores.find(metric); it != r->scores.end()) out.push_back(it->second);
  return out;
}

ordered_json SweepResults::axes_of(const std::string& variant) const {
  for (const auto& r : runs)
    if (r.variant == variant) return r.axes;
  return ordered_json::object();
}

SweepResults load_sweep_results(const std::string& dir, const std::string& baseline) {
  const fs::path d(dir);
  MM_CHECK(fs::is_directory(d), "{}: no such directory (expected a sweep's out_dir, written by mmtrain ablate run)",
           dir);
  const std::string sweep_path = (d / "sweep.json").string();
  MM_CHECK(fs::exists(sweep_path), "{}: no such file (expected the sweep.json that mmtrain ablate run writes)",
           sweep_path);
  const ordered_json j = read_json(sweep_path, "the sweep");
  MM_CHECK(j.is_object() && j.contains("runs") && j["runs"].is_array(), "{}: expected an object with \"runs\" (a list)",
           sweep_path);
  SweepResults r;
  r.dir = dir;
  r.name = j.value("name", d.filename().string());
  r.baseline = j.contains("baseline") && j["baseline"].is_string() ? j["baseline"].get<std::string>() : "";
  for (const char* k : {"stages", "varying_stages"})
    if (j.contains(k) && j[k].is_array())
      for (const auto& s : j[k])
        (std::string(k) == "stages" ? r.stages : r.varying_stages).push_back(s.get<std::string>());
  if (j.contains("train_s") && j["train_s"].is_number()) r.train_s = j["train_s"].get<double>();
  if (j.contains("overhead_s") && j["overhead_s"].is_number()) r.overhead_s = j["overhead_s"].get<double>();
  const std::string mix_stage = !r.varying_stages.empty() ? r.varying_stages.back()
                                : !r.stages.empty()       ? r.stages.back()
                                                          : "";
  const std::string last_stage = r.stages.empty() ? "" : r.stages.back();

  for (size_t i = 0; i < j["runs"].size(); ++i) {
    const auto& jr = j["runs"][i];
    MM_CHECK(jr.is_object() && jr.contains("variant") && jr["variant"].is_string(),
             "{}: runs[{}]: expected an object with \"variant\"", sweep_path, i);
    SweepRun run;
    run.variant = jr["variant"].get<std::string>();
    run.seed = jr.value("seed", int64_t{0});
    run.status = jr.value("status", "");
    run.error = jr.contains("error") && jr["error"].is_string() ? jr["error"].get<std::string>() : "";
    if (jr.contains("wall_s") && jr["wall_s"].is_number()) run.wall_s = jr["wall_s"].get<double>();
    const std::string given_dir = jr.value("run_dir", "");
    run.id =
        given_dir.empty() ? fmt::format("{}-seed{}", run.variant, run.seed) : fs::path(given_dir).filename().string();
    run.run_dir = resolve(given_dir, d, d / "runs" / run.id);
    if (jr.contains("axes") && jr["axes"].is_object()) {
      run.axes = jr["axes"];
    } else {  // older sweep.json: the axes from "set" (key=value)
      run.axes = ordered_json::object();
      if (jr.contains("set") && jr["set"].is_array())
        for (const auto& s : jr["set"]) {
          const std::string a = s.get<std::string>();
          if (auto eq = a.find('='); eq != std::string::npos) run.axes[a.substr(0, eq)] = parse_value(a.substr(eq + 1));
        }
    }
    for (const auto& [k, v] : run.axes.items())
      if (std::find(r.axis_keys.begin(), r.axis_keys.end(), k) == r.axis_keys.end()) r.axis_keys.push_back(k);
    if (std::find(r.variants.begin(), r.variants.end(), run.variant) == r.variants.end())
      r.variants.push_back(run.variant);

    const std::string given_eval = jr.contains("eval") && jr["eval"].is_string() ? jr["eval"].get<std::string>() : "";
    run.eval_path = resolve(given_eval, d, "");
    if (run.eval_path.empty() && !run.run_dir.empty() && !last_stage.empty())
      run.eval_path = last_eval_json(fs::path(run.run_dir) / last_stage / "eval");
    if (run.status.empty()) run.status = run.eval_path.empty() ? "pending" : "done";
    if (run.status != "done") run.eval_path.clear();  // a failed or unfinished run's old eval is not its result
    if (run.status == "done" && run.eval_path.empty())
      r.notes.push_back(
          fmt::format("run {}: status done but no eval JSON in {}/{}/eval", run.id, run.run_dir, last_stage));
    if (!run.eval_path.empty()) {
      try {  // one unreadable eval JSON is a listed run and a note, not a failed report
        read_scores(run.eval_path, &run);
      } catch (const mm::Error& e) {
        r.notes.push_back(fmt::format("run {}: {}", run.id, without_location(e.what())));
        run.eval_path.clear(), run.scores.clear(), run.items.clear();
      }
    }
    if (!run.run_dir.empty() && !mix_stage.empty()) {
      read_mixture(fs::path(run.run_dir) / mix_stage / "config.yaml", &run, &r.notes);
      run.mixture_stage = mix_stage;
    }
    r.runs.push_back(std::move(run));
  }
  if (!baseline.empty()) {
    MM_CHECK(std::find(r.variants.begin(), r.variants.end(), baseline) != r.variants.end(),
             "ablate report: --baseline '{}' names no variant of {} (variants: {})", baseline, sweep_path,
             fmt::join(r.variants, ", "));
    r.baseline = baseline;
  }
  compute_cells(&r);
  if (!r.baseline.empty() && r.usable_runs(r.baseline).empty())
    r.notes.push_back(fmt::format("the baseline variant {} has no results: nothing is compared", r.baseline));
  return r;
}

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

std::string ratios_csv(const SweepResults& r) {
  std::string out = "run_id,name";
  for (const auto& g : r.mixture_groups) out += "," + csv_field(g);
  out += "\n";
  for (const SweepRun* run : r.usable_runs()) {
    if (run->mixture.empty()) continue;
    out += csv_field(run->id) + "," + csv_field(run->variant);
    for (const auto& g : r.mixture_groups) {
      auto it = run->mixture.find(g);
      out += fmt::format(",{}", it == run->mixture.end() ? 0.0 : it->second);
    }
    out += "\n";
  }
  return out;
}

std::string metrics_csv(const SweepResults& r) {
  std::string out = "run_id,name";
  for (const auto& m : r.metrics) out += "," + csv_field(m);
  out += "\n";
  for (const SweepRun* run : r.usable_runs()) {
    out += csv_field(run->id) + "," + csv_field(run->variant);
    for (const auto& m : r.metrics) {
      auto it = run->scores.find(m);
      out += it == run->scores.end() ? std::string(",") : fmt::format(",{}", it->second);
    }
    out += "\n";
  }
  return out;
}

}  // namespace mm::eval::ablation
