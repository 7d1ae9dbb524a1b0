// ImageError: why an image was rejected (empty, truncated, not an image, too large, unsupported).
// The message is the bare reason, ready for a quarantine entry; callers add the image's name.
#pragma once
#include <string>

#include "core/check.h"

namespace mm::data {

class ImageError : public mm::Error {
 public:
  explicit ImageError(const std::string& reason) : mm::Error(reason) {}
};

}  // namespace mm::data
