// Helpers of the run report's tests (test_run_report.cpp, test_run_report_rich.cpp).
#pragma once
#include <string>
#include <vector>

#include "eval/eval_report.h"

namespace mm::eval::report_test {

inline BenchmarkScore bench(const std::string& name, Category c, Metric m, double score) {
  BenchmarkScore b;
  b.name = name, b.category = c, b.metric = m, b.score = score, b.n = 4;
  return b;
}

// Tags open and close in order (<a>, </a>, <b/>); comments and <?...?> / <!...> skipped.
inline bool tags_balanced(const std::string& x) {
  std::vector<std::string> stack;
  for (size_t i = x.find('<'); i != std::string::npos; i = x.find('<', i + 1)) {
    const size_t j = x.find('>', i);
    if (j == std::string::npos) return false;
    const std::string tag = x.substr(i + 1, j - i - 1);
    if (tag.empty()) return false;
    if (tag[0] == '!' || tag[0] == '?' || tag.back() == '/') continue;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return false;
      stack.pop_back();
    } else {
      stack.push_back(tag.substr(0, tag.find_first_of(" \n")));
    }
  }
  return stack.empty();
}

inline size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t i = text.find(needle); i != std::string::npos; i = text.find(needle, i + 1)) ++n;
  return n;
}

}  // namespace mm::eval::report_test
