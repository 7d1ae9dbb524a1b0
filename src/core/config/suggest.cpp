// closest_key (declared in config_tree.h): "did you mean" for config keys, list entries by name and
// commands; the edit distance on its own so config_tree.cpp keeps to reading and merging trees.
#include "core/config/config_tree.h"

#include <algorithm>
#include <cctype>

namespace mm::cfg {

std::string closest_key(const std::string& key, const std::vector<std::string>& candidates) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  const std::string a = lower(key);
  size_t best = std::string::npos;
  std::string best_key;
  for (const auto& cand : candidates) {
    const std::string b = lower(cand);
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diag = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diag = up;
      }
    }
    if (row[b.size()] < best) best = row[b.size()], best_key = cand;
  }
  size_t limit = std::max<size_t>(2, key.size() / 3);
  return best <= limit && best < key.size() ? best_key : "";
}

}  // namespace mm::cfg
