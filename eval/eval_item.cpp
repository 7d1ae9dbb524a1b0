// Names of categories and metrics.
#include "eval/eval_item.h"

#include <utility>

namespace mm::eval {
namespace {

constexpr std::pair<Category, const char*> kCategories[] = {
    {Category::kGeneral, "general"},        {Category::kTextRich, "text-rich"},
    {Category::kKnowledge, "knowledge"},    {Category::kReferGround, "refer&ground"},
    {Category::kMultiImage, "multi-image"}, {Category::kTextOnly, "text-only"},
};

constexpr std::pair<Metric, const char*> kMetrics[] = {
    {Metric::kVqaAccuracy, "vqa_accuracy"},       {Metric::kAnls, "anls"},       {Metric::kExactMatch, "exact_match"},
    {Metric::kMultipleChoice, "multiple_choice"}, {Metric::kIouAt50, "iou@0.5"}, {Metric::kPerplexity, "perplexity"},
};

template <class Table>
std::string join_names(const Table& table) {
  std::string out;
  for (const auto& [value, name] : table) {
    if (!out.empty()) out += " | ";
    out += name;
  }
  return out;
}

}  // namespace

const char* category_name(Category c) {
  for (const auto& [value, name] : kCategories)
    if (value == c) return name;
  return "?";
}

const char* metric_name(Metric m) {
  for (const auto& [value, name] : kMetrics)
    if (value == m) return name;
  return "?";
}

bool parse_category(const std::string& s, Category* out) {
  for (const auto& [value, name] : kCategories)
    if (s == name) return *out = value, true;
  return false;
}

bool parse_metric(const std::string& s, Metric* out) {
  for (const auto& [value, name] : kMetrics)
    if (s == name) return *out = value, true;
  return false;
}

std::string category_names() { return join_names(kCategories); }
std::string metric_names() { return join_names(kMetrics); }

bool metric_is_accuracy(Metric m) { return m != Metric::kPerplexity; }

}  // namespace mm::eval
