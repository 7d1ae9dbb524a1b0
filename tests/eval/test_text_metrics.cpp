// ANLS, Levenshtein distance, exact match and perplexity on hand-computed cases.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/check.h"
#include "eval/metrics/anls.h"
#include "eval/metrics/exact_match.h"
#include "eval/metrics/perplexity.h"

using namespace mm::eval;

TEST_CASE("levenshtein distance", "[eval][anls]") {
  CHECK(levenshtein("kitten", "sitting") == 3);
  CHECK(levenshtein("", "abc") == 3);
  CHECK(levenshtein("abc", "abc") == 0);
  CHECK(levenshtein("flaw", "lawn") == 2);
  CHECK(levenshtein("caf\xc3\xa9", "cafe") == 1);  // one code point, though two bytes
}

TEST_CASE("anls: threshold 0.5, case and whitespace insensitive, max over references", "[eval][anls]") {
  CHECK(anls("hello", {"hello"}) == 1.0);
  CHECK(anls("  HeLLo ", {"hello"}) == 1.0);
  CHECK(anls("new   york", {"New York"}) == 1.0);
  CHECK(anls("helo", {"hello"}) == Approx(0.8));   // 1 edit / 5
  CHECK(anls("abcde", {"abcxy"}) == Approx(0.6));  // 2 / 5 = 0.4 < 0.5
  CHECK(anls("ab", {"ac"}) == 0.0);                // NL = 0.5 exactly: not below the threshold
  CHECK(anls("abcd", {"abxy"}) == 0.0);
  CHECK(anls("abc", {"xyz"}) == 0.0);
  CHECK(anls("hello", {"xyz", "helo", "hello world"}) == Approx(0.8));
  CHECK(anls("caf\xc3\xa9", {"cafe"}) == Approx(0.75));  // code points: 1/4
  CHECK(anls("", {""}) == 1.0);
  CHECK(anls("", {"abc"}) == 0.0);
  CHECK(anls("abcde", {"abcxy"}, 0.3) == 0.0);  // a stricter threshold
}

TEST_CASE("exact match: trimmed, lowercase, whitespace collapsed", "[eval][exact]") {
  CHECK(exact_match("  Paris ", {"paris"}) == 1.0);
  CHECK(exact_match("new\tyork", {"New York"}) == 1.0);
  CHECK(exact_match("Paris.", {"paris"}) == 0.0);
  CHECK(exact_match("lyon", {"paris", "Lyon"}) == 1.0);
  CHECK(exact_match("", {"x"}) == 0.0);
}

TEST_CASE("perplexity is exp of the negative mean log-likelihood", "[eval][perplexity]") {
  CHECK(perplexity({std::log(0.25), std::log(0.25)}) == Approx(4.0));
  CHECK(perplexity({0.0, 0.0, 0.0}) == Approx(1.0));
  CHECK(perplexity({std::log(0.5), std::log(0.125)}) == Approx(4.0));  // exp(-(ln .5 + ln .125)/2) = 4
  // Corpus perplexity weights texts by their token counts.
  CHECK(corpus_perplexity({{std::log(0.5)}, {std::log(0.125), std::log(0.125)}}) ==
        Approx(std::exp(-(std::log(0.5) + 2 * std::log(0.125)) / 3)));
  CHECK_THROWS_AS(perplexity({}), mm::Error);
  CHECK_THROWS_AS(perplexity({0.5}), mm::Error);
  CHECK_THROWS_AS(perplexity({NAN}), mm::Error);
}
