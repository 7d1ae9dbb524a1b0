// Multiple-choice answer resolution by letter and by option text.
#include <catch2/catch.hpp>

#include "core/check.h"
#include "eval/metrics/multiple_choice.h"

using namespace mm::eval;

TEST_CASE("multiple choice: letters in their usual forms", "[eval][mc]") {
  const std::vector<std::string> c = {"cat", "dog", "bird", "fish"};
  for (const char* p :
       {"B", "b", "(B)", "(b) dog", "B.", "B)", "B: dog", "B. dog", "Answer: B", "answer B", "The answer is B.",
        "The correct answer is (B)", "Option B", "Options: B", "The answer is: (B)", "  B  "}) {
    INFO(p);
    CHECK(resolve_choice(p, c) == 1);
  }
  CHECK(resolve_choice("E", c) == -1);  // a letter past the options names nothing
  CHECK(resolve_choice("(E) dog", c) == -1);
  CHECK(resolve_choice("A cat", c) == -1);  // "A" followed by a word is an article, not a letter
}

TEST_CASE("multiple choice: option text", "[eval][mc]") {
  const std::vector<std::string> c = {"cat", "Big dog", "bird", "fish"};
  CHECK(resolve_choice("big dog", c) == 1);
  CHECK(resolve_choice("Big  Dog.", c) == 1);
  CHECK(resolve_choice("The answer is bird", c) == 2);
  CHECK(resolve_choice("Bird", c) == 2);     // 'B' followed by a letter is a word, not the letter B
  CHECK(resolve_choice("a bird", c) == -1);  // no partial matching
  CHECK(resolve_choice("I think it is a dog", c) == -1);
  CHECK(resolve_choice("", c) == -1);
}

TEST_CASE("multiple-choice accuracy compares the options named", "[eval][mc]") {
  const std::vector<std::string> c = {"red", "green", "blue"};
  CHECK(multiple_choice_accuracy("C", "blue", c) == 1.0);
  CHECK(multiple_choice_accuracy("blue", "C", c) == 1.0);
  CHECK(multiple_choice_accuracy("(c)", "C", c) == 1.0);
  CHECK(multiple_choice_accuracy("A", "C", c) == 0.0);
  CHECK(multiple_choice_accuracy("purple", "C", c) == 0.0);
  CHECK(multiple_choice_accuracy("D", "C", c) == 0.0);
  CHECK_THROWS_AS(multiple_choice_accuracy("A", "purple", c), mm::Error);
}
