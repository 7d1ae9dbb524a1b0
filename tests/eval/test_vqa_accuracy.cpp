// VQA accuracy: the official normalisation (golden data from tests/eval/gen_vqa_golden.py, which
// runs the official vqaEval.py logic) and the reference-count rules.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/io.h"
#include "eval/metrics/vqa_accuracy.h"

using namespace mm::eval;

TEST_CASE("vqa normalisation matches the official script on tricky answers", "[eval][vqa]") {
  const auto golden = nlohmann::json::parse(mm::io::read_file(MM_SOURCE_DIR "/tests/eval/data/vqa_golden.json"));
  REQUIRE(golden["normalize"].size() > 40);
  for (const auto& c : golden["normalize"]) {
    INFO("input: " << c["in"].get<std::string>());
    CHECK(vqa_normalize(c["in"].get<std::string>()) == c["out"].get<std::string>());
  }
}

TEST_CASE("vqa normalisation: punctuation, period, number, article and contraction rules", "[eval][vqa]") {
  // A punctuation mark touching a space is deleted, else replaced by a space.
  CHECK(vqa_process_punctuation("black/white") == "black white");
  CHECK(vqa_process_punctuation("black / white") == "black  white");
  // A digit,comma,digit group anywhere deletes every punctuation mark instead.
  CHECK(vqa_process_punctuation("2,000") == "2000");
  CHECK(vqa_process_punctuation("x-y 1,5") == "xy 15");
  // Periods go unless a digit follows.
  CHECK(vqa_process_punctuation("3.5.") == "3.5");
  CHECK(vqa_process_punctuation("a.m.") == "am");
  CHECK(vqa_process_digit_article("The Two dogs") == "2 dogs");
  CHECK(vqa_process_digit_article("none") == "0");
  CHECK(vqa_process_digit_article("dont") == "don't");
  CHECK(vqa_process_digit_article("Im") == "im");  // the official table's "Im" never matches after lower()
  CHECK(vqa_process_digit_article("eleven") == "eleven");
  CHECK(vqa_normalize("  An   apple.\n") == "apple");
}

TEST_CASE("vqa accuracy over 10 references averages the leave-one-out subsets", "[eval][vqa]") {
  const auto golden = nlohmann::json::parse(mm::io::read_file(MM_SOURCE_DIR "/tests/eval/data/vqa_golden.json"));
  for (const auto& c : golden["accuracy10"]) {
    INFO("prediction: " << c["prediction"].get<std::string>());
    CHECK(vqa_accuracy(c["prediction"], c["answers"].get<std::vector<std::string>>()) ==
          Approx(c["accuracy"].get<double>()));
  }
  // By hand: 2 matching of 10 -> 8 subsets hold both (2/3), 2 hold one (1/3): (8*2/3 + 2/3)/10 = 0.6.
  std::vector<std::string> refs = {"2", "2", "3", "3", "3", "3", "3", "3", "3", "3"};
  CHECK(vqa_accuracy("two", refs) == Approx(0.6));
  CHECK(vqa_accuracy("3", refs) == Approx(1.0));
  CHECK(vqa_accuracy("4", refs) == 0.0);
}

TEST_CASE("vqa accuracy with one or a few references", "[eval][vqa]") {
  CHECK(vqa_accuracy("Two.", {"2"}) == 1.0);  // one reference: exact match after normalisation
  CHECK(vqa_accuracy("the dog", {"dog"}) == 1.0);
  CHECK(vqa_accuracy("dogs", {"dog"}) == 0.0);
  CHECK(vqa_accuracy("red", {"red", "red", "blue"}) == Approx(2.0 / 3.0));  // 2..9: min(matches/3, 1)
  CHECK(vqa_accuracy("red", {"red", "red", "red", "blue"}) == 1.0);
  CHECK(vqa_accuracy("green", {"red", "blue"}) == 0.0);
  CHECK_THROWS_AS(vqa_accuracy("x", {}), mm::Error);
}
