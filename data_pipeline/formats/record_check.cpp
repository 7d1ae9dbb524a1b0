#include "data_pipeline/formats/record_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>

namespace mm::data {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Parses "[int, int, ...]" starting at text[pos] == '['. On success fills `nums` and `end`
// (one past ']'); any other content (floats, words, nested brackets) is not a box.
bool parse_int_group(const std::string& text, size_t pos, std::vector<long long>& nums, size_t& end) {
  nums.clear();
  size_t i = pos + 1;
  const size_t n = text.size();
  while (true) {
    while (i < n && is_space(text[i])) ++i;
    size_t start = i;
    if (i < n && (text[i] == '-' || text[i] == '+')) ++i;
    const size_t digits = i;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == digits || i - digits > 12) return false;
    nums.push_back(std::stoll(text.substr(start, i - start)));
    while (i < n && is_space(text[i])) ++i;
    if (i >= n) return false;
    if (text[i] == ']') {
      end = i + 1;
      return true;
    }
    if (text[i] != ',') return false;
    ++i;
  }
}

}  // namespace

bool is_blank(const std::string& s) {
  for (char c : s)
    if (!is_space(c)) return false;
  return true;
}

std::optional<std::string> find_bad_box(const std::string& text) {
  std::vector<long long> nums;
  for (size_t pos = text.find('['); pos != std::string::npos; pos = text.find('[', pos + 1)) {
    size_t end = 0;
    if (!parse_int_group(text, pos, nums, end)) continue;
    if (nums.size() != 2 && nums.size() != 4) continue;
    const std::string box = text.substr(pos, end - pos);
    for (long long v : nums)
      if (v < 0 || v > 999) return fmt::format("box {} has a coordinate outside 0..999", box);
    if (nums.size() == 4 && (nums[0] > nums[2] || nums[1] > nums[3]))
      return fmt::format("box {} has x1 > x2 or y1 > y2 (expected [x1, y1, x2, y2])", box);
    pos = end - 1;
  }
  return std::nullopt;
}

std::optional<std::string> find_fraction_box(const std::string& text) {
  for (size_t pos = text.find('['); pos != std::string::npos; pos = text.find('[', pos + 1)) {
    const size_t end = text.find(']', pos);
    if (end == std::string::npos) break;
    const std::string inner = text.substr(pos + 1, end - pos - 1);
    if (inner.find('[') != std::string::npos) continue;
    int count = 0;
    bool fraction = false, ok = true;
    for (size_t i = 0; ok && i <= inner.size();) {
      const size_t comma = std::min(inner.find(',', i), inner.size());
      std::string item = inner.substr(i, comma - i);
      const size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
      item = b == std::string::npos ? std::string() : item.substr(b, e - b + 1);
      // digits with at most one '.', nothing else
      const bool number = !item.empty() && item.find_first_not_of("0123456789.") == std::string::npos &&
                          item.find('.') == item.rfind('.') && item != ".";
      const double v = number ? std::strtod(item.c_str(), nullptr) : -1;
      ok = number && v >= 0 && v <= 1;
      fraction |= item.find('.') != std::string::npos && v > 0 && v < 1;
      ++count;
      i = comma + 1;
    }
    if (ok && fraction && (count == 2 || count == 4)) return text.substr(pos, end - pos + 1);
  }
  return std::nullopt;
}

void validate_sample(const RawSample& s, bool check_boxes) {
  if (s.turns.empty()) throw BadRecord(QuarantineKind::EmptyText, "no text");
  for (size_t t = 0; t < s.turns.size(); ++t) {
    if (is_blank(s.turns[t].text))
      throw BadRecord(QuarantineKind::EmptyText,
                      s.turns.size() == 1 ? std::string("text is empty") : fmt::format("turn {} is empty", t));
  }
  const int64_t placeholders = count_image_placeholders(s);
  if (placeholders != static_cast<int64_t>(s.images.size()))
    throw BadRecord(QuarantineKind::PlaceholderMismatch,
                    fmt::format("{} \"<image>\" placeholder(s) but {} image(s)", placeholders, s.images.size()));
  if (check_boxes && !s.images.empty()) {
    for (const auto& t : s.turns)
      if (auto bad = find_bad_box(t.text)) throw BadRecord(QuarantineKind::BoxOutOfRange, *bad);
  }
}

}  // namespace mm::data
