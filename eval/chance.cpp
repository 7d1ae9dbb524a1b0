// The majority-answer baseline (chance.h).
#include "eval/chance.h"

#include <algorithm>
#include <set>

#include "eval/eval_set_reader.h"
#include "eval/metrics/box_iou.h"
#include "eval/metrics/exact_match.h"
#include "eval/metrics/score.h"

namespace mm::eval {

std::string majority_answer(const std::vector<EvalItem>& items) {
  std::map<std::string, size_t> count;                     // normalised answer -> items listing it
  std::vector<std::pair<std::string, std::string>> order;  // (normalised, raw) in first-seen order
  for (const auto& item : items) {
    std::set<std::string> seen;  // count an answer once per item
    for (const auto& a : item.answers) {
      const std::string key = normalize_light(a);
      if (!seen.insert(key).second) continue;
      if (count[key]++ == 0) order.emplace_back(key, a);
    }
  }
  std::string best;
  size_t best_count = 0;
  for (const auto& [key, raw] : order)
    if (count[key] > best_count) best = raw, best_count = count[key];
  return best;
}

double best_constant_box(const std::vector<EvalItem>& items) {
  if (items.empty()) return 0.0;
  std::vector<std::vector<Box>> refs;  // the parsed reference boxes of each item
  for (const auto& item : items) {
    refs.emplace_back();
    for (const auto& a : item.answers)
      if (auto b = parse_box(a)) refs.back().push_back(*b);
  }
  std::vector<double> edges;
  for (int e = 0; e < 1000; e += 50) edges.push_back(e);
  edges.push_back(999);
  size_t best = 0;
  for (size_t x1 = 0; x1 < edges.size(); ++x1)
    for (size_t x2 = x1 + 1; x2 < edges.size(); ++x2)
      for (size_t y1 = 0; y1 < edges.size(); ++y1)
        for (size_t y2 = y1 + 1; y2 < edges.size(); ++y2) {
          const Box box{edges[x1], edges[y1], edges[x2], edges[y2]};
          size_t hits = 0;
          for (const auto& r : refs)
            hits += std::any_of(r.begin(), r.end(), [&](const Box& b) { return box_iou(box, b) >= kIouThreshold; });
          best = std::max(best, hits);
        }
  return static_cast<double>(best) / items.size();
}

std::optional<double> majority_baseline(const std::vector<EvalItem>& items) {
  if (items.empty() || !metric_is_accuracy(items.front().metric)) return std::nullopt;
  double sum = 0;
  if (items.front().metric == Metric::kMultipleChoice) {
    for (const auto& item : items) sum += item.choices.empty() ? 0.0 : 1.0 / item.choices.size();
  } else {
    const Prediction constant{majority_answer(items), {}};
    for (const auto& item : items) sum += score_item(item, constant);
  }
  if (items.front().metric == Metric::kIouAt50) return std::max(sum / items.size(), best_constant_box(items));
  return sum / items.size();
}

ChanceLevels chance_levels(const std::vector<EvalItem>& items, int64_t max_items) {
  std::map<std::string, std::vector<EvalItem>> groups;
  for (const auto& item : items) {
    auto& g = groups[item.benchmark];
    if (max_items == 0 || static_cast<int64_t>(g.size()) < max_items) g.push_back(item);
  }
  ChanceLevels out;
  std::map<std::string, std::pair<double, size_t>> sums;  // category -> (sum, count)
  for (const auto& [name, group] : groups) {
    const auto base = majority_baseline(group);
    if (!base) continue;
    out.benchmarks[name] = *base;
    auto& s = sums[category_name(group.front().category)];
    s.first += *base, ++s.second;
  }
  for (const auto& [cat, s] : sums) out.categories[cat] = s.first / s.second;
  double mm = 0;
  size_t present = 0;
  for (Category c : {Category::kGeneral, Category::kTextRich, Category::kKnowledge})
    if (auto it = out.categories.find(category_name(c)); it != out.categories.end()) mm += it->second, ++present;
  if (present) out.mmbase = mm / present;
  return out;
}

ChanceLevels chance_levels_of_sets(const std::vector<std::string>& paths, int64_t max_items, bool check_images) {
  std::vector<EvalItem> all;
  ReadOptions options;
  options.check_images = check_images;
  for (const auto& p : paths) {
    EvalSet set = read_eval_set(p, options);
    all.insert(all.end(), std::make_move_iterator(set.items.begin()), std::make_move_iterator(set.items.end()));
  }
  return chance_levels(all, max_items);
}

}  // namespace mm::eval
