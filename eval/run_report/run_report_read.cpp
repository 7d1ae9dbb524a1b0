// Reading a run directory for its report (run_report.h): the stages, every eval file and
// metrics.jsonl, and the chance levels; the rest of what a run records: run_meta_read.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/check.h"
#include "core/config/config_tree.h"
#include "core/hash.h"
#include "core/io.h"
#include "core/logging.h"
#include "eval/eval_item.h"
#include "eval/run_report/run_report.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mm::eval {

std::optional<double> score_of(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::nullopt : std::optional<double>(it->second);
}

namespace {

// "step_000500.json" -> 500; -1 when the name has another form.
int64_t step_of(const fs::path& p) {
  const std::string s = p.stem().string();
  if (p.extension() != ".json" || s.rfind("step_", 0) != 0 || s.size() == 5) return -1;
  for (size_t i = 5; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return -1;
  return std::stoll(s.substr(5));
}

StageEval parse_eval(const json& j, const std::string& path, int64_t step) {
  MM_CHECK(j.is_object() && j.contains("categories") && j["categories"].is_object(),
           "{}: not an eval report (expected an object with \"categories\")", path);
  StageEval e;
  e.path = path, e.step = step;
  for (const auto& [k, v] : j["categories"].items())
    if (v.is_number()) e.categories[k] = v.get<double>();
  if (j.contains("mmbase") && j["mmbase"].is_number()) e.mmbase = j["mmbase"].get<double>();
  if (j.contains("chance") && j["chance"].is_object())
    for (const auto& [k, v] : j["chance"].items())
      if (v.is_number()) e.chance[k] = v.get<double>();
  if (j.contains("benchmarks") && j["benchmarks"].is_object()) e.benchmarks = j["benchmarks"];
  if (j.contains("examples") && j["examples"].is_object()) e.examples = j["examples"];
  if (j.contains("eval_sets") && j["eval_sets"].is_array())
    for (const auto& s : j["eval_sets"])
      if (s.is_object() && s.contains("path") && s["path"].is_string() && s.contains("hash") && s["hash"].is_string())
        e.sets.emplace_back(s["path"].get<std::string>(), s["hash"].get<std::string>());
  return e;
}

// Every eval JSON (step_NNNNNN.json) in `dir`, by step.
std::vector<StageEval> eval_files(const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir))
      if (int64_t s = step_of(entry.path()); s >= 0) found.emplace_back(s, entry.path());
  std::sort(found.begin(), found.end());
  std::vector<StageEval> out;
  for (const auto& [step, path] : found) {
    json j;
    try {
      j = json::parse(io::read_file(path.string()));
    } catch (const json::exception& e) {
      MM_FAIL("{}: not valid JSON ({})", path.string(), e.what());
    }
    out.push_back(parse_eval(j, path.string(), step));
  }
  return out;
}

// The eval JSON with the highest step in `dir`, if any.
std::optional<StageEval> last_eval_file(const fs::path& dir) {
  auto all = eval_files(dir);
  if (all.empty()) return std::nullopt;
  return std::move(all.back());
}

void add_point(Series* s, int64_t step, const json& r, const char* key) {
  if (r.contains(key) && r[key].is_number()) s->emplace_back(step, r[key].get<double>());
}

// {"name": number, ...} -> one point per name.
void add_points(std::map<std::string, Series>* m, int64_t step, const json& obj) {
  if (!obj.is_object()) return;
  for (const auto& [k, v] : obj.items())
    if (v.is_number()) (*m)[k].emplace_back(step, v.get<double>());
}

StageRun read_stage(const std::string& name, const fs::path& dir, std::vector<std::string>* notes) {
  StageRun s;
  s.name = name;
  std::vector<StageEval> record_evals;  // the eval records of metrics.jsonl
  const fs::path metrics = dir / "metrics.jsonl";
  if (fs::exists(metrics)) {
    std::ifstream in(metrics);
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json r;
      try {
        r = json::parse(line);
      } catch (const json::exception&) {
        notes->push_back(fmt::format("{}:{}: not JSON, ignored", metrics.string(), n));
        continue;
      }
      if (!r.is_object() || !r.contains("step") || !r["step"].is_number()) {
        notes->push_back(fmt::format("{}:{}: no \"step\", ignored", metrics.string(), n));
        continue;
      }
      const int64_t step = r["step"].get<int64_t>();
      s.steps = std::max(s.steps, step);
      if (r.contains("eval") && r["eval"].is_object()) {
        json as_report = {{"categories", r["eval"]}, {"mmbase", r.value("eval_mmbase", json(nullptr))}};
        record_evals.push_back(parse_eval(as_report, metrics.string(), step));
      } else if (r.contains("heldout_loss")) {
        add_points(&s.heldout_loss, step, r["heldout_loss"]);
      } else if (r.contains("loss") && r["loss"].is_number()) {
        s.loss.emplace_back(step, r["loss"].get<double>());
        add_point(&s.lr, step, r, "lr");
        add_point(&s.grad_norm, step, r, "grad_norm");
        add_point(&s.tokens_per_s, step, r, "tokens_per_s");
        if (r.contains("loss_by_source")) add_points(&s.loss_by_source, step, r["loss_by_source"]);
        if (r.contains("tokens_seen") && r["tokens_seen"].is_number()) s.tokens = r["tokens_seen"].get<int64_t>();
      }
    }
  }
  s.evals = eval_files(dir / "eval");
  if (!s.evals.empty()) s.eval = s.evals.back();
  if (!s.eval && !record_evals.empty()) s.eval = record_evals.back();
  std::set<int64_t> have;
  for (const auto& e : s.evals) have.insert(e.step);
  for (auto& e : record_evals)
    if (have.insert(e.step).second) s.evals.push_back(std::move(e));
  std::stable_sort(s.evals.begin(), s.evals.end(),
                   [](const StageEval& a, const StageEval& b) { return a.step < b.step; });
  return s;
}

// The chance levels each evaluation stored with its scores (the majority-answer baseline of exactly
// the items it scored), from the latest report that has them; for reports written before they
// were stored, the eval sets of the stages' config.yaml.
void compute_chance(const fs::path& run_dir, RunSummary* run) {
  const StageEval* last = run->init && !run->init->chance.empty() ? &*run->init : nullptr;
  for (const auto& s : run->stages)
    if (s.eval && !s.eval->chance.empty()) last = &*s.eval;
  if (last) {
    run->chance.categories = last->chance;
    for (const auto& [name, b] : last->benchmarks.items())
      if (b.is_object() && b.contains("chance") && b["chance"].is_number())
        run->chance.benchmarks[name] = b["chance"].get<double>();
    double sum = 0;
    size_t n = 0;
    for (Category c : {Category::kGeneral, Category::kTextRich, Category::kKnowledge})
      if (auto v = score_of(last->chance, category_name(c))) sum += *v, ++n;
    if (n) run->chance.mmbase = sum / n;
    run->chance_source =
        "the majority-answer baseline each evaluation stored, over the items it scored (" + last->path + ")";
    return;
  }
  std::vector<std::string> sets;
  int64_t max_items = 0;
  bool check_images = false;
  for (const auto& s : run->stages) {
    const fs::path cfg_path = run_dir / s.name / "config.yaml";
    if (!fs::exists(cfg_path)) continue;
    try {
      // Only the eval: section, untyped: a run written by an older or newer mmtrain still reads.
      const cfg::Json root = cfg::load_yaml_file(cfg_path.string()).root;
      if (!root.contains("eval") || !root["eval"].is_object()) continue;
      const cfg::Json& ev = root["eval"];
      if (ev.contains("sets") && ev["sets"].is_array())
        for (const auto& p : ev["sets"])
          if (p.is_string() && std::find(sets.begin(), sets.end(), p.get<std::string>()) == sets.end())
            sets.push_back(p.get<std::string>());
      if (ev.contains("max_items") && ev["max_items"].is_string())
        max_items = std::stoll(ev["max_items"].get<std::string>());
      if (ev.contains("check_images") && ev["check_images"].is_string())
        check_images = ev["check_images"].get<std::string>() == "true";
    } catch (const std::exception& e) {
      run->notes.push_back(fmt::format("{}: not read ({})", cfg_path.string(), e.what()));
    }
  }
  if (!sets.empty()) {
    try {
      run->chance = chance_levels_of_sets(sets, max_items, check_images);
      std::vector<std::string> names;
      for (const auto& p : sets) names.push_back(fs::path(p).filename().string());
      run->chance_source = fmt::format(
          "majority-answer baseline of the {} eval set(s) of the stages' config.yaml as they are on disk now ({}{}); "
          "the eval reports store none",
          sets.size(), fmt::join(names, ", "),
          max_items ? fmt::format("; first {} items per benchmark", max_items) : "");
      return;
    } catch (const std::exception& e) {
      run->notes.push_back(fmt::format("eval sets not read for the chance levels ({})", e.what()));
    }
  }
  run->chance_source = "none (no chance levels in the eval reports and no eval sets)";
}

// A note for every eval-set file that no longer hashes as it did when an evaluation in the table
// read it (or is gone): the scores, item counts and chance levels shown are those of the files then.
void check_eval_sets(RunSummary* run) {
  std::vector<const StageEval*> evals;
  if (run->init) evals.push_back(&*run->init);
  for (const auto& s : run->stages)
    if (s.eval) evals.push_back(&*s.eval);
  std::set<std::pair<std::string, std::string>> seen;
  for (const StageEval* e : evals) {
    for (const auto& [path, hash] : e->sets) {
      if (!seen.insert({path, hash}).second) continue;
      if (!fs::is_regular_file(path)) {
        run->notes.push_back(fmt::format(
            "eval set {} (read by {}) is not on disk here (a relative path is read from the working directory)", path,
            e->path));
        continue;
      }
      const std::string now = fnv1a64_hex(io::read_file(path));
      if (now != hash)
        run->notes.push_back(fmt::format(
            "eval set {} changed since {} was evaluated (hash {} then, {} now): the scores, item counts and chance "
            "levels shown are those of the file as it was",
            path, e->path, hash, now));
    }
  }
}

}  // namespace

std::vector<std::string> discover_stages(const std::string& run_dir) {
  MM_CHECK(fs::is_directory(run_dir), "run directory {} does not exist", run_dir);
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    const fs::path m = entry.path() / "metrics.jsonl";
    if (entry.is_directory() && fs::exists(m))
      found.emplace_back(fs::last_write_time(m), entry.path().filename().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& f : found) names.push_back(std::move(f.second));
  return names;
}

RunSummary read_run(const std::string& run_dir, std::vector<std::string> stage_names) {
  MM_CHECK(fs::is_directory(run_dir), "run directory {} does not exist", run_dir);
  RunSummary run;
  run.run_dir = run_dir;
  if (stage_names.empty()) stage_names = discover_stages(run_dir);
  for (const auto& name : stage_names) {
    const fs::path dir = fs::path(run_dir) / name;
    if (!fs::is_directory(dir)) {
      run.notes.push_back(fmt::format("stage '{}': no folder {} (not run yet?)", name, dir.string()));
      continue;
    }
    run.stages.push_back(read_stage(name, dir, &run.notes));
  }
  MM_CHECK(!run.stages.empty(),
           "run directory {}: no stage found (expected STAGE/metrics.jsonl written by mmtrain train)", run_dir);
  run.init = last_eval_file(fs::path(run_dir) / "baseline" / "eval");
  compute_chance(run_dir, &run);
  read_run_meta(&run);
  check_eval_sets(&run);
  const fs::path time_file = fs::path(run_dir) / "demo_time.txt";
  if (fs::exists(time_file)) {
    std::istringstream in(io::read_file(time_file.string()));
    double seconds = 0;
    if (in >> seconds)
      run.wall_seconds = seconds;
    else
      run.notes.push_back(time_file.string() + ": expected one number (seconds), ignored");
  }
  return run;
}

}  // namespace mm::eval
