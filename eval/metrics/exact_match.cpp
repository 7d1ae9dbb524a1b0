// Exact match.
#include "eval/metrics/exact_match.h"

#include <cctype>

#include "core/check.h"

namespace mm::eval {

std::string normalize_light(const std::string& text) {
  std::string out;
  bool pending_space = false;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isspace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ', pending_space = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

double exact_match(const std::string& prediction, const std::vector<std::string>& references) {
  MM_CHECK(!references.empty(), "exact_match needs at least one reference answer");
  const std::string pred = normalize_light(prediction);
  for (const auto& r : references)
    if (normalize_light(r) == pred) return 1.0;
  return 0.0;
}

}  // namespace mm::eval
