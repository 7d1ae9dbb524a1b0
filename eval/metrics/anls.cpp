// ANLS and a code-point Levenshtein distance.
#include "eval/metrics/anls.h"

#include <algorithm>
#include <cctype>

#include "core/check.h"

namespace mm::eval {
namespace {

std::vector<char32_t> code_points(const std::string& s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + n > s.size()) {  // truncated sequence: one code point per byte
      out.push_back(c);
      ++i;
      continue;
    }
    char32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

// ' '.join(s.strip().lower().split())
std::string anls_normalize(const std::string& s) {
  std::string out;
  bool pending_space = false;
  for (char ch : s) {
    if (std::isspace(static_cast<unsigned char>(ch))) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ', pending_space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out;
}

}  // namespace

size_t levenshtein(const std::string& a_text, const std::string& b_text) {
  const auto a = code_points(a_text), b = code_points(b_text);
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

double anls(const std::string& prediction, const std::vector<std::string>& references, double threshold) {
  MM_CHECK(!references.empty(), "anls needs at least one reference answer");
  const std::string pred = anls_normalize(prediction);
  const size_t pred_len = code_points(pred).size();
  double best = 0;
  for (const auto& ref_text : references) {
    const std::string ref = anls_normalize(ref_text);
    const size_t len = std::max(pred_len, code_points(ref).size());
    const double nl = len == 0 ? 0.0 : static_cast<double>(levenshtein(pred, ref)) / len;
    best = std::max(best, nl < threshold ? 1.0 - nl : 0.0);
  }
  return best;
}

}  // namespace mm::eval
