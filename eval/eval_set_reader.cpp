// JSONL eval-set reader with per-line validation.
#include "eval/eval_set_reader.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <unordered_map>

#include "core/check.h"
#include "core/hash.h"
#include "core/io.h"
#include "core/logging.h"
#include "eval/metrics/box_iou.h"
#include "eval/metrics/multiple_choice.h"

namespace mm::eval {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Reads obj[key] as a list of strings; returns "" or the reason.
std::string string_list(const json& obj, const char* key, bool required, std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return required ? std::string("missing key \"") + key + "\"" : "";
  if (!it->is_array()) return std::string("\"") + key + "\" must be a list of strings, got " + it->type_name();
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string())
      return std::string("\"") + key + "\"[" + std::to_string(i) + "] must be a string, got " + (*it)[i].type_name();
    out->push_back((*it)[i].get<std::string>());
  }
  return "";
}

std::string string_field(const json& obj, const char* key, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::string("missing key \"") + key + "\"";
  if (!it->is_string()) return std::string("\"") + key + "\" must be a string, got " + it->type_name();
  *out = it->get<std::string>();
  return "";
}

size_t count_placeholders(const std::string& s) {
  size_t n = 0;
  for (size_t p = s.find("<image>"); p != std::string::npos; p = s.find("<image>", p + 7)) ++n;
  return n;
}

}  // namespace

std::string parse_eval_item(const std::string& line, const std::string& dir, bool check_images, EvalItem* item) {
  json obj;
  try {
    obj = json::parse(line);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    return "not valid JSON (" + what.substr(what.find(']') + 2) + ")";
  }
  if (!obj.is_object()) return std::string("expected a JSON object, got ") + obj.type_name();

  EvalItem it;
  auto id = obj.find("id");
  if (id == obj.end()) return "missing key \"id\"";
  if (id->is_string())
    it.id = id->get<std::string>();
  else if (id->is_number_integer())
    it.id = std::to_string(id->get<long long>());
  else
    return std::string("\"id\" must be a string or an integer, got ") + id->type_name();
  if (it.id.empty()) return "\"id\" is empty";

  std::string cat, metric, err;
  if (!(err = string_field(obj, "question", &it.question)).empty()) return err;
  if (!(err = string_list(obj, "images", false, &it.images)).empty()) return err;
  if (!(err = string_list(obj, "answers", true, &it.answers)).empty()) return err;
  if (!(err = string_list(obj, "choices", false, &it.choices)).empty()) return err;
  if (!(err = string_field(obj, "category", &cat)).empty()) return err;
  if (!(err = string_field(obj, "benchmark", &it.benchmark)).empty()) return err;
  if (!(err = string_field(obj, "metric", &metric)).empty()) return err;
  if (obj.contains("task") && !(err = string_field(obj, "task", &it.task)).empty()) return err;
  if (it.benchmark.empty()) return "\"benchmark\" is empty";
  if (!parse_category(cat, &it.category)) return "unknown category \"" + cat + "\" (expected " + category_names() + ")";
  if (!parse_metric(metric, &it.metric)) return "unknown metric \"" + metric + "\" (expected " + metric_names() + ")";
  if (it.answers.empty()) return "\"answers\" is empty (at least one reference is needed)";

  const size_t holders = count_placeholders(it.question);
  if (holders != it.images.size())
    return "the question has " + std::to_string(holders) + " <image> placeholder(s) but \"images\" lists " +
           std::to_string(it.images.size());

  if (it.metric == Metric::kMultipleChoice) {
    if (it.choices.empty()) return "metric multiple_choice needs a non-empty \"choices\" list";
    if (it.choices.size() > 26)
      return "\"choices\" has " + std::to_string(it.choices.size()) + " options, at most 26 (A..Z)";
    for (const auto& a : it.answers)
      if (resolve_choice(a, it.choices) < 0)
        return "answer \"" + a + "\" names none of the " + std::to_string(it.choices.size()) +
               " choices (give a letter A.. or an option's text)";
  } else if (!it.choices.empty()) {
    return "\"choices\" given but the metric is " + metric + " (only multiple_choice uses them)";
  }
  if (it.metric == Metric::kIouAt50) {
    for (const auto& a : it.answers) {
      std::string why;
      if (!parse_box(a, &why)) return "answer \"" + a + "\" is not a box: " + why;
    }
  }

  for (auto& img : it.images) {
    if (img.empty()) return "an entry of \"images\" is empty";
    // The path policy of eval sets (docs/reliability.md): paths may point anywhere (benchmarks
    // keep their images in a shared folder), but a NUL would silently cut the path short.
    if (img.find('\0') != std::string::npos) return "image path " + io::printable(img) + " holds a NUL character";
    fs::path p(img);
    if (p.is_relative()) img = (fs::path(dir) / p).lexically_normal().string();
    if (check_images && !fs::exists(img)) return "image not found: " + img;
  }
  *item = std::move(it);
  return "";
}

EvalSet read_eval_set(const std::string& path, const ReadOptions& options) {
  MM_CHECK(fs::exists(path), "eval set {} does not exist", path);
  const std::string text = io::read_file(path);
  const std::string dir = fs::path(path).parent_path().string();
  EvalSet set;
  set.path = path;
  set.hash = fnv1a64_hex(text);
  std::unordered_map<std::string, size_t> first_line_of_id;
  struct BenchInfo {
    Category category;
    Metric metric;
    size_t line;
  };
  std::unordered_map<std::string, BenchInfo> bench;

  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank line

    EvalItem item;
    std::string reason = parse_eval_item(line, dir, options.check_images, &item);
    if (reason.empty()) {
      auto [it, fresh] = first_line_of_id.emplace(item.id, line_no);
      if (!fresh) reason = "duplicate id \"" + item.id + "\" (first at line " + std::to_string(it->second) + ")";
    }
    if (reason.empty()) {
      auto [b, fresh] = bench.emplace(item.benchmark, BenchInfo{item.category, item.metric, line_no});
      if (!fresh && (b->second.category != item.category || b->second.metric != item.metric))
        reason = "benchmark \"" + item.benchmark + "\" is " + category_name(b->second.category) + "/" +
                 metric_name(b->second.metric) + " at line " + std::to_string(b->second.line) + " but " +
                 category_name(item.category) + "/" + metric_name(item.metric) + " here";
    }
    if (!reason.empty()) {
      set.skipped.push_back({path, line_no, reason});
      continue;
    }
    item.source = path + ":" + std::to_string(line_no);
    set.items.push_back(std::move(item));
  }

  auto log = mm::log::get("eval");
  constexpr size_t kShown = 10;
  for (size_t i = 0; i < set.skipped.size() && i < kShown; ++i) log->warn("skipped {}", set.skipped[i].message());
  if (set.skipped.size() > kShown)
    log->warn("... and {} more skipped items in {} (all listed in the report)", set.skipped.size() - kShown, path);
  log->debug("{}: {} items, {} skipped", path, set.items.size(), set.skipped.size());
  return set;
}

}  // namespace mm::eval
