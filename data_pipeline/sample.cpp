#include "data_pipeline/sample.h"

namespace mm::data {

std::string ImageRef::display_name() const {
  if (!inline_bytes.empty() && path.empty()) return "<inline image>";
  if (offset >= 0) return path + ":" + member;
  return path;
}

int64_t count_image_placeholders(const RawSample& s) {
  int64_t n = 0;
  const std::string ph = kImagePlaceholder;
  for (const auto& t : s.turns) {
    for (size_t pos = t.text.find(ph); pos != std::string::npos; pos = t.text.find(ph, pos + ph.size())) ++n;
  }
  return n;
}

}  // namespace mm::data
