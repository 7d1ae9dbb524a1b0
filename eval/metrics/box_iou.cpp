// Box parsing and IoU.
#include "eval/metrics/box_iou.h"

#include <algorithm>
#include <cctype>

#include "core/check.h"

namespace mm::eval {
namespace {

bool parse_grid_int(const std::string& field, double* out) {
  size_t b = 0, e = field.size();
  while (b < e && std::isspace(static_cast<unsigned char>(field[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(field[e - 1]))) --e;
  if (b == e || e - b > 3) return false;
  int v = 0;
  for (size_t i = b; i < e; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(field[i]))) return false;
    v = v * 10 + (field[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<Box> parse_box(const std::string& text, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<Box> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  size_t search = 0;
  while (true) {
    const size_t close = text.find(']', search);
    if (close == std::string::npos) return fail("no [x1, y1, x2, y2] box in the answer");
    const size_t open = text.rfind('[', close);
    if (open == std::string::npos || open < search) {
      search = close + 1;
      continue;
    }
    const std::string inner = text.substr(open + 1, close - open - 1);
    search = close + 1;
    if (inner.find(',') == std::string::npos) continue;  // "[red]": not a box

    std::vector<std::string> fields;
    size_t start = 0;
    for (size_t i = 0; i <= inner.size(); ++i)
      if (i == inner.size() || inner[i] == ',') fields.push_back(inner.substr(start, i - start)), start = i + 1;
    if (fields.size() != 4)
      return fail("box [" + inner + "] has " + std::to_string(fields.size()) + " numbers, expected 4");
    double v[4];
    for (int k = 0; k < 4; ++k)
      if (!parse_grid_int(fields[k], &v[k]))
        return fail("box [" + inner + "]: '" + fields[k] + "' is not an integer in 0..999");
    return Box{std::min(v[0], v[2]), std::min(v[1], v[3]), std::max(v[0], v[2]), std::max(v[1], v[3])};
  }
}

double box_iou(const Box& a, const Box& b) {
  const double iw = std::max(0.0, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const double ih = std::max(0.0, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const double inter = iw * ih;
  const double uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

double iou_accuracy(const std::string& prediction, const std::vector<std::string>& references, double threshold) {
  MM_CHECK(!references.empty(), "iou@0.5 needs at least one reference box");
  const auto pred = parse_box(prediction);
  double hit = 0;
  for (const auto& r : references) {
    std::string why;
    const auto ref = parse_box(r, &why);
    MM_CHECK(ref.has_value(), "iou@0.5: reference '{}' is not a box: {}", r, why);
    if (pred && box_iou(*pred, *ref) >= threshold) hit = 1;
  }
  return hit;
}

}  // namespace mm::eval
