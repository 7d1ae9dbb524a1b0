// ANLS (average normalised Levenshtein similarity, DocVQA/InfoVQA) and the edit distance under it.
#pragma once
#include <string>
#include <vector>

namespace mm::eval {

// Levenshtein distance between two strings, counted in Unicode code points (UTF-8 input;
// a malformed byte counts as one code point).
size_t levenshtein(const std::string& a, const std::string& b);

// ANLS of one prediction: both sides lowercased (ASCII), trimmed and inner whitespace collapsed
// (as the official ST-VQA/DocVQA script does); for each reference NL = distance / max(len);
// similarity = 1 - NL when NL < threshold, else 0; the item's score is the max over references.
// Two empty strings are equal (score 1).
double anls(const std::string& prediction, const std::vector<std::string>& references, double threshold = 0.5);

}  // namespace mm::eval
