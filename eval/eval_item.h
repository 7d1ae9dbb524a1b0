// One evaluation item (a question with its images, reference answers, category and metric) and
// the names of the capability categories and metrics an eval set may use.
#pragma once
#include <string>
#include <vector>

namespace mm::eval {

// Capability categories of MM1.5's evaluation (MM15_SPEC.md section 5).
enum class Category { kGeneral, kTextRich, kKnowledge, kReferGround, kMultiImage, kTextOnly };

// How an item's prediction is scored.
enum class Metric { kVqaAccuracy, kAnls, kExactMatch, kMultipleChoice, kIouAt50, kPerplexity };

// "general", "text-rich", "knowledge", "refer&ground", "multi-image", "text-only".
const char* category_name(Category c);
// "vqa_accuracy", "anls", "exact_match", "multiple_choice", "iou@0.5", "perplexity".
const char* metric_name(Metric m);
// Parses a name above; false when the name is unknown.
bool parse_category(const std::string& name, Category* out);
bool parse_metric(const std::string& name, Metric* out);
// All valid names joined by " | " (for error messages).
std::string category_names();
std::string metric_names();

// True for metrics whose score lies in [0, 1] (all but perplexity); only those enter category means.
bool metric_is_accuracy(Metric m);

struct EvalItem {
  std::string id;                    // unique within its file
  std::string question;              // with one `<image>` placeholder per image
  std::vector<std::string> images;   // resolved paths (relative entries joined to the file's folder)
  std::vector<std::string> answers;  // one or several references (the text to score perplexity on)
  std::vector<std::string> choices;  // options of a multiple-choice item, in letter order A, B, ...
  Category category = Category::kGeneral;
  std::string benchmark;
  std::string task;  // optional sub-task within the benchmark ("" when the set has none)
  Metric metric = Metric::kExactMatch;
  std::string source;  // "file.jsonl:LINE", for messages
};

}  // namespace mm::eval
