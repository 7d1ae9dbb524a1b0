// What a run directory records besides metrics and evaluations (run_report.h, read_run_meta): each
// stage's config.yaml, its line in train.log, the times and host of its TensorBoard event files, its
// checkpoints; run_history.jsonl, recipe.yaml and the export folder; and the images of example
// predictions written before the eval JSON stored them (looked up in the eval sets when those still
// hash as they did).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/config/config_tree.h"
#include "core/hash.h"
#include "core/io.h"
#include "eval/eval_set_reader.h"
#include "eval/run_report/run_report.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mm::eval {
namespace {

// The wall_time of every event of a TensorBoard file: TFRecords (uint64 length, uint32 CRC, data,
// uint32 CRC) of Event protobufs whose first field is wall_time (field 1, fixed64 double, tag 0x09),
// as trainers/metrics/tb_writer.cpp writes them. A truncated last record ends the read.
std::vector<double> event_times(const fs::path& path) {
  const std::string d = io::read_file(path.string());
  std::vector<double> out;
  for (size_t pos = 0; pos + 12 <= d.size();) {
    uint64_t len = 0;
    std::memcpy(&len, d.data() + pos, 8);
    pos += 12;
    if (len > d.size() - pos || d.size() - pos - len < 4) break;
    if (len >= 9 && static_cast<unsigned char>(d[pos]) == 0x09) {
      double t = 0;
      std::memcpy(&t, d.data() + pos + 1, 8);
      if (std::isfinite(t)) out.push_back(t);
    }
    pos += len + 4;
  }
  return out;
}

void read_tensorboard(const fs::path& dir, StageMeta* m) {
  if (!fs::is_directory(dir)) return;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const auto times = event_times(f);
    if (times.empty()) continue;
    const auto [lo, hi] = std::minmax_element(times.begin(), times.end());
    m->started = m->started ? std::min(*m->started, *lo) : *lo;
    m->wall_seconds = m->wall_seconds.value_or(0) + (*hi - *lo);
    // events.out.tfevents.<unix seconds>.<host>
    const std::string rest = f.filename().string().substr(std::strlen("events.out.tfevents."));
    if (const size_t dot = rest.find('.'); dot != std::string::npos && m->hostname.empty())
      m->hostname = rest.substr(dot + 1);
  }
}

// The last "stage 'NAME': N steps x ..." line of train.log for each stage, from "stage" on.
std::map<std::string, std::string> stage_log_lines(const fs::path& log) {
  std::map<std::string, std::string> out;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    const size_t at = line.find("stage '");
    if (at == std::string::npos) continue;
    const size_t end = line.find("': ", at + 7);
    if (end == std::string::npos || line.find(" steps x ", end) == std::string::npos) continue;
    out[line.substr(at + 7, end - at - 7)] = line.substr(at);
  }
  return out;
}

std::vector<std::string> checkpoints(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("step_", 0) == 0) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Examples without "images" (eval JSONs written before they were stored) get their item's images
// from the eval sets the evaluation read, where the file still hashes as it did. Returns the number
// of examples filled.
size_t fill_example_images(StageEval* e, std::map<std::string, std::map<std::string, json>>* cache) {
  bool missing = false;
  for (const auto& [bench, list] : e->examples.items())
    for (const auto& x : list)
      if (x.is_object() && !x.contains("images")) missing = true;
  if (!missing) return 0;
  std::map<std::string, json> images;  // benchmark + '\n' + id -> paths
  for (const auto& [path, hash] : e->sets) {
    if (!cache->count(path + '\n' + hash)) {
      auto& m = (*cache)[path + '\n' + hash];
      if (!fs::is_regular_file(path) || fnv1a64_hex(io::read_file(path)) != hash) continue;
      try {
        for (const auto& it : read_eval_set(path, {/*check_images=*/false}).items)
          m[it.benchmark + '\n' + it.id] = it.images;
      } catch (const std::exception&) {
        continue;
      }
    }
    for (const auto& [k, v] : (*cache)[path + '\n' + hash]) images[k] = v;
  }
  size_t filled = 0;
  for (auto& [bench, list] : e->examples.items())
    for (auto& x : list) {
      if (!x.is_object() || x.contains("images") || !x.contains("id")) continue;
      const std::string id = x["id"].is_string() ? x["id"].get<std::string>() : x["id"].dump();
      // an item without images (text-only) stores none: nothing to fill, no note
      if (auto it = images.find(bench + '\n' + id); it != images.end() && !it->second.empty())
        x["images"] = it->second, ++filled;
    }
  return filled;
}

}  // namespace

void read_run_meta(RunSummary* run) {
  const fs::path root(run->run_dir);
  const auto log_lines = stage_log_lines(root / "train.log");
  for (auto& s : run->stages) {
    const fs::path dir = root / s.name;
    StageMeta& m = s.meta;
    if (fs::is_regular_file(dir / "config.yaml")) {
      m.config_path = (dir / "config.yaml").string();
      try {
        m.config = cfg::load_yaml_file(m.config_path).root;
      } catch (const std::exception& e) {
        run->notes.push_back(fmt::format("{}: not read ({})", m.config_path, e.what()));
      }
    }
    if (auto it = log_lines.find(s.name); it != log_lines.end()) m.log_line = it->second;
    try {
      read_tensorboard(dir / "tb", &m);
    } catch (const std::exception& e) {
      run->notes.push_back(fmt::format("{}: TensorBoard files not read ({})", (dir / "tb").string(), e.what()));
    }
    m.checkpoints = checkpoints(dir / "checkpoints");
  }
  if (fs::is_directory(root / "export")) run->export_dir = (root / "export").string();
  if (fs::is_regular_file(root / "recipe.yaml")) run->recipe_yaml = (root / "recipe.yaml").string();
  std::ifstream hist(root / "run_history.jsonl");
  for (std::string line; std::getline(hist, line);) {
    json r = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!r.is_object()) continue;  // a damaged line (a session killed while writing it)
    if (r.value("event", "") == "stage_end" && r.contains("wall_s") && r["wall_s"].is_number())
      for (auto& s : run->stages)
        if (s.name == r.value("stage", ""))
          s.meta.history_wall_seconds = s.meta.history_wall_seconds.value_or(0) + r["wall_s"].get<double>();
    run->history.push_back(std::move(r));
  }

  std::map<std::string, std::map<std::string, json>> cache;
  size_t filled = run->init ? fill_example_images(&*run->init, &cache) : 0;
  for (auto& s : run->stages)
    if (s.eval) filled += fill_example_images(&*s.eval, &cache);
  if (filled)
    run->examples_images_from =
        "the eval sets the evaluation read (unchanged since): its eval JSON predates storing them";
}

}  // namespace mm::eval
