// Multiple-choice answer resolution.
#include "eval/metrics/multiple_choice.h"

#include <regex>

#include "core/check.h"
#include "eval/metrics/exact_match.h"

namespace mm::eval {
namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string text_key(const std::string& s) {
  std::string k = normalize_light(s);
  if (!k.empty() && k.back() == '.') k.pop_back();
  return normalize_light(k);
}

}  // namespace

int resolve_choice(const std::string& text, const std::vector<std::string>& choices) {
  static const std::regex kPrefix(R"(^(?:the\s+)?(?:correct\s+)?(?:answer|option|choice)s?\b(?:\s+is)?\s*[:\-]?\s*)",
                                  std::regex::icase);
  static const std::regex kParenLetter(R"(^\(([A-Za-z])\))");
  static const std::regex kBareLetter(R"(^([A-Za-z])(?:$|[.:)]))");
  const std::string whole = trim(text);
  const std::string body = trim(std::regex_replace(whole, kPrefix, "", std::regex_constants::format_first_only));

  std::smatch m;
  if (std::regex_search(body, m, kParenLetter) || std::regex_search(body, m, kBareLetter)) {
    const int index = std::toupper(static_cast<unsigned char>(m[1].str()[0])) - 'A';
    return index < static_cast<int>(choices.size()) ? index : -1;
  }
  const std::string keys[] = {text_key(whole), text_key(body)};
  for (size_t i = 0; i < choices.size(); ++i)
    for (const auto& k : keys)
      if (!k.empty() && k == text_key(choices[i])) return static_cast<int>(i);
  return -1;
}

double multiple_choice_accuracy(const std::string& prediction, const std::string& reference,
                                const std::vector<std::string>& choices) {
  const int want = resolve_choice(reference, choices);
  MM_CHECK(want >= 0, "multiple_choice: the reference '{}' names none of the {} options", reference, choices.size());
  return resolve_choice(prediction, choices) == want ? 1.0 : 0.0;
}

}  // namespace mm::eval
