// The eval-set reader: valid items, and every malformed line skipped with file:line and a reason.
#include <catch2/catch.hpp>

#include "core/check.h"
#include "core/hash.h"
#include "core/io.h"
#include "eval/eval_set_reader.h"
#include "support/temp_dir.h"

using namespace mm::eval;

namespace {
const std::string kGood =
    R"({"id": "q1", "question": "<image>\nWhat color?", "images": ["img/a.png"], "answers": ["red"], "category": "general", "benchmark": "colors", "metric": "vqa_accuracy"})";
}  // namespace

TEST_CASE("reader: valid items of every metric", "[eval][reader]") {
  mm::test::TempDir dir;
  dir.write("img/a.png", "x");
  dir.write("img/b.png", "x");
  const std::string path = dir.write(
      "set.jsonl",
      kGood + "\n\n" +
          R"({"id": 7, "question": "Which?", "answers": ["B"], "choices": ["cat", "dog"], "category": "knowledge", "benchmark": "sqa", "metric": "multiple_choice"})"
          "\n"
          R"({"id": "g1", "question": "<image> Where is the cat?", "images": ["img/b.png"], "answers": ["[1, 2, 300, 400]"], "category": "refer&ground", "benchmark": "ref", "metric": "iou@0.5"})"
          "\r\n"
          R"({"id": "m1", "question": "<image><image> Same?", "images": ["img/a.png", "img/b.png"], "answers": ["yes"], "category": "multi-image", "benchmark": "pairs", "metric": "exact_match"})"
          "\n"
          R"({"id": "t1", "question": "", "answers": ["the quick fox"], "category": "text-only", "benchmark": "ppl", "metric": "perplexity"})");
  const EvalSet set = read_eval_set(path);
  CHECK(set.hash == mm::fnv1a64_hex(mm::io::read_file(path)));  // what the eval report records
  CHECK(set.skipped.empty());
  REQUIRE(set.items.size() == 5);
  CHECK(set.items[0].id == "q1");
  CHECK(set.items[0].images.at(0) == dir.file("img/a.png"));  // resolved against the file's folder
  CHECK(set.items[0].category == Category::kGeneral);
  CHECK(set.items[0].metric == Metric::kVqaAccuracy);
  CHECK(set.items[0].source == path + ":1");
  CHECK(set.items[1].id == "7");
  CHECK(set.items[1].choices.size() == 2);
  CHECK(set.items[1].source == path + ":3");  // the blank line counts
  CHECK(set.items[2].category == Category::kReferGround);
  CHECK(set.items[3].images.size() == 2);
  CHECK(set.items[4].metric == Metric::kPerplexity);
}

TEST_CASE("reader: malformed lines are skipped and listed with file:line and the reason", "[eval][reader]") {
  mm::test::TempDir dir;
  dir.write("img/a.png", "x");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"id": "x", "question": "q", )", "not valid JSON"},
      {R"(["a"])", "expected a JSON object, got array"},
      {R"({"question": "q", "answers": ["a"], "category": "general", "benchmark": "b", "metric": "exact_match"})",
       "missing key \"id\""},
      {R"({"id": "x1", "question": "q", "category": "general", "benchmark": "b", "metric": "exact_match"})",
       "missing key \"answers\""},
      {R"({"id": "x2", "question": "q", "answers": "a", "category": "general", "benchmark": "b", "metric": "exact_match"})",
       "\"answers\" must be a list of strings, got string"},
      {R"({"id": "x3", "question": "q", "answers": [], "category": "general", "benchmark": "b", "metric": "exact_match"})",
       "\"answers\" is empty"},
      {R"({"id": "x4", "question": "q", "answers": ["a"], "category": "vision", "benchmark": "b", "metric": "exact_match"})",
       "unknown category \"vision\" (expected general | text-rich"},
      {R"({"id": "x5", "question": "q", "answers": ["a"], "category": "general", "benchmark": "b", "metric": "bleu"})",
       "unknown metric \"bleu\""},
      {R"({"id": "x6", "question": "<image> q", "answers": ["a"], "category": "general", "benchmark": "b", "metric": "exact_match"})",
       "1 <image> placeholder(s) but \"images\" lists 0"},
      {R"({"id": "x7", "question": "<image> q", "images": ["img/missing.png"], "answers": ["a"], "category": "general", "benchmark": "b", "metric": "exact_match"})",
       "image not found"},
      {R"({"id": "x7n", "question": "<image> q", "images": ["img/a.png\u0000.jpg"], "answers": ["a"], "category": "general", "benchmark": "b", "metric": "exact_match"})",
       "holds a NUL character"},
      {R"({"id": "x8", "question": "q", "answers": ["D"], "choices": ["a", "b"], "category": "knowledge", "benchmark": "mc", "metric": "multiple_choice"})",
       "answer \"D\" names none of the 2 choices"},
      {R"({"id": "x9", "question": "q", "answers": ["A"], "category": "knowledge", "benchmark": "mc", "metric": "multiple_choice"})",
       "needs a non-empty \"choices\""},
      {R"({"id": "x10", "question": "q", "answers": ["[1, 2, 3]"], "category": "refer&ground", "benchmark": "g", "metric": "iou@0.5"})",
       "is not a box: box [1, 2, 3] has 3 numbers"},
      {R"({"id": "x11", "question": "q", "answers": ["a"], "choices": ["a"], "category": "general", "benchmark": "b", "metric": "exact_match"})",
       "only multiple_choice uses them"},
      {R"({"id": "q1", "question": "q", "answers": ["a"], "category": "general", "benchmark": "colors", "metric": "vqa_accuracy"})",
       "duplicate id \"q1\" (first at line 1)"},
      {R"({"id": "x12", "question": "q", "answers": ["a"], "category": "text-rich", "benchmark": "colors", "metric": "vqa_accuracy"})",
       "benchmark \"colors\" is general/vqa_accuracy at line 1 but text-rich/vqa_accuracy here"},
      {R"({"id": "x13", "question": 5, "answers": ["a"], "category": "general", "benchmark": "b", "metric": "exact_match"})",
       "\"question\" must be a string, got number"},
  };
  std::string text = kGood + "\n";
  for (const auto& [line, reason] : bad) text += line + "\n";
  const std::string path = dir.write("set.jsonl", text);
  const EvalSet set = read_eval_set(path);
  REQUIRE(set.items.size() == 1);
  REQUIRE(set.skipped.size() == bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    INFO(set.skipped[i].message());
    CHECK(set.skipped[i].file == path);
    CHECK(set.skipped[i].line == i + 2);
    CHECK(set.skipped[i].reason.find(bad[i].second) != std::string::npos);
    CHECK(set.skipped[i].reason.find('\n') == std::string::npos);
  }
  CHECK(set.skipped[0].message().rfind(path + ":2: not valid JSON", 0) == 0);
}

TEST_CASE("reader: image checks can be switched off, a missing file throws", "[eval][reader]") {
  mm::test::TempDir dir;
  const std::string path = dir.write("set.jsonl", kGood + "\n");
  CHECK(read_eval_set(path).skipped.size() == 1);
  const EvalSet set = read_eval_set(path, {/*check_images=*/false});
  CHECK(set.items.size() == 1);
  CHECK_THROWS_WITH(read_eval_set(dir.file("nope.jsonl")), Catch::Contains("nope.jsonl does not exist"));
}
